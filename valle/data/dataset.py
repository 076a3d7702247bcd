"""Batches for training: a lhotse-style dataset that turns a CutSet into padded text ids and codec codes.

Dimension legend: B batch, L text tokens (with BOS/EOS), T codec frames, Tp prompt frames, Q codebooks.
"""

from __future__ import annotations

import random
from typing import Any

import torch
from lhotse import CutSet
from lhotse.dataset.collation import collate_custom_field
from torch.nn.utils.rnn import pad_sequence

from valle.data.concat import PromptConcatenator
from valle.data.config import CODES_FIELD, TEXT_TOKENS_KEY
from valle.data.prompts import PromptSelector
from valle.errors import DataError

# Audio pad value of collated codes; the model masks padded frames by `audio_features_lens` anyway.
CODE_PAD = 0


class TtsDataset(torch.utils.data.Dataset):
    """Receives a whole CutSet batch from the sampler (DataLoader `batch_size=None`) and returns:

        utt_id               list[str]            cut ids
        text                 list[str]            transcripts
        text_tokens          LongTensor[B, L]     ids of [<bos>, phonemes..., <eos>], 0 (<pad>) after
        text_tokens_lens     IntTensor[B]         L_b including BOS/EOS
        audio_features       LongTensor[B, T, Q]  codec codes (the reference's key name), CODE_PAD after
        audio_features_lens  IntTensor[B]         T_b
        prompts, prompts_lens                     only with a `prompts` selector (prefix mode 4):
                             LongTensor[B, Tp, Q] codes of a <= 3 s crop of a neighbouring utterance, IntTensor[B]

    Args:
        text_collater: a `valle.text.TextTokenCollater` built from the corpus's symbol table.
        prompts: picks prompt cuts for prefix mode 4; None disables prompts.
        seed: seeds prompt choice and crop offsets, so batches are reproducible.
        concat: puts a same-speaker utterance in front of some cuts (text and codes), as a voice prompt is at
            inference; `utt_id` then reads `<prompt id>+<cut id>`.  None: every cut alone.
        word_separator: the token placed between the two transcripts (the tokenizer's word separator).
    """

    def __init__(self, text_collater: Any, prompts: PromptSelector | None = None, seed: int = 0,
                 concat: PromptConcatenator | None = None, word_separator: str = "_") -> None:  # fmt: skip
        super().__init__()
        self.text_collater = text_collater
        self.prompts = prompts
        self.concat = concat
        self.word_separator = word_separator
        self.rng = random.Random(seed)

    def __getitem__(self, cuts: CutSet) -> dict[str, Any]:
        cuts = cuts.sort_by_duration(ascending=False)  # deterministic order, longest first
        for cut in cuts:
            if len(cut.supervisions) != 1 or not cut.has_custom(CODES_FIELD):
                raise DataError(f"cut {cut.id} is not tokenized (needs one supervision and codes); run 'valle tokenize'")
        tokens = [_tokens(cut) for cut in cuts]
        if self.concat is None:
            ids, texts = [cut.id for cut in cuts], [cut.supervisions[0].text for cut in cuts]
            codes, code_lens = collate_custom_field(cuts, CODES_FIELD, pad_value=CODE_PAD)
        else:
            ids, texts, tokens, codes, code_lens = self._joined(cuts, tokens)
        text_tokens, text_lens = self.text_collater(tokens)
        batch: dict[str, Any] = {
            "utt_id": ids,
            "text": texts,
            "text_tokens": text_tokens.long(),
            "text_tokens_lens": text_lens.int(),
            "audio_features": codes.long(),  # [B, T, Q]
            "audio_features_lens": code_lens.int(),
        }
        if self.prompts is not None:
            prompt_cuts = self.prompts.crops(cuts, self.rng)
            prompts, prompt_lens = collate_custom_field(prompt_cuts, CODES_FIELD, pad_value=CODE_PAD)
            batch["prompts"] = prompts.long()  # [B, Tp, Q]
            batch["prompts_lens"] = prompt_lens.int()
        return batch

    def _joined(
        self, cuts: CutSet, tokens: list[list[str]]
    ) -> tuple[list[str], list[str], list[list[str]], torch.Tensor, torch.Tensor]:
        """Ids, transcripts, tokens and padded codes [B, T, Q] (+ lengths), some cuts preceded by a prompt cut."""
        assert self.concat is not None
        ids, texts, joined, arrays = [], [], [], []
        for cut, toks in zip(cuts, tokens):
            codes = torch.from_numpy(cut.load_custom(CODES_FIELD).astype("int64"))
            first = self.concat.pick(cut, self.rng)
            if first is None:
                ids.append(cut.id)
                texts.append(cut.supervisions[0].text)
                joined.append(toks)
            else:
                ids.append(f"{first.id}+{cut.id}")
                texts.append(f"{first.supervisions[0].text} {cut.supervisions[0].text}")
                joined.append([*_tokens(first), self.word_separator, *toks])
                codes = torch.cat([torch.from_numpy(first.load_custom(CODES_FIELD).astype("int64")), codes])
            arrays.append(codes)
        lens = torch.tensor([a.shape[0] for a in arrays], dtype=torch.int32)
        return ids, texts, joined, pad_sequence(arrays, batch_first=True, padding_value=CODE_PAD), lens


def _tokens(cut: Any) -> list[str]:
    return cut.supervisions[0].custom[TEXT_TOKENS_KEY]["text"]
