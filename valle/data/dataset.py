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
        firsts = [self.concat.pick(cut, self.rng) if self.concat else None for cut in cuts]  # prompt cuts, or None
        ids = [cut.id if f is None else f"{f.id}+{cut.id}" for cut, f in zip(cuts, firsts)]
        texts = [" ".join(c.supervisions[0].text for c in (f, cut) if c is not None) for cut, f in zip(cuts, firsts)]
        tokens = [_tokens(cut) if f is None else [*_tokens(f), self.word_separator, *_tokens(cut)]
                  for cut, f in zip(cuts, firsts)]  # fmt: skip
        if any(f is not None for f in firsts):
            codes, code_lens = _joined_codes(cuts, firsts)
        else:
            codes, code_lens = collate_custom_field(cuts, CODES_FIELD, pad_value=CODE_PAD)
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


def _tokens(cut: Any) -> list[str]:
    return cut.supervisions[0].custom[TEXT_TOKENS_KEY]["text"]


def _joined_codes(cuts: CutSet, firsts: list[Any | None]) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded codes [B, T, Q] and lengths [B]: each cut's codes, after those of its prompt cut when it has one."""
    arrays = [
        torch.cat([torch.from_numpy(c.load_custom(CODES_FIELD).astype("int64")) for c in (f, cut) if c is not None])
        for cut, f in zip(cuts, firsts)
    ]
    lens = torch.tensor([a.shape[0] for a in arrays], dtype=torch.int32)
    return pad_sequence(arrays, batch_first=True, padding_value=CODE_PAD), lens
