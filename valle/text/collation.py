"""`TextTokenCollater`: token lists -> padded id tensors, numbered exactly as lifeiteng/vall-e numbers them.

Vocabulary (model ids): ``[<pad>, <bos>, <eos>] + sorted(symbols)``, where `symbols` are all entries of
the k2symbols file *including* ``<eps>`` (the reference passes k2's `SymbolTable.symbols`, which has it,
so ``<eps>`` lands among the sorted symbols).  With `add_bos=False` / `add_eos=False` that symbol is
left out of the vocabulary and the ids after it shift - also as in the reference (which always uses
both).

Unknown symbols (the reference's issue #7 - a bare KeyError at inference): by default the call fails
with an `InvalidInputError` that names the unknown symbols and the text they came from;
`unknown="drop"` removes them instead and logs a warning listing them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from typing import Literal

import torch

from valle.errors import InvalidInputError
from valle.text.symbols import SymbolTable

logger = logging.getLogger(__name__)

UnknownPolicy = Literal["error", "drop"]
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"


class TextTokenCollater:
    """Map token lists to ids, add BOS/EOS, pad to the longest.

    Args:
        symbols: a `SymbolTable` (its `.symbols`, ``<eps>`` included) or the token strings.
        add_bos, add_eos: put ``<bos>`` / ``<eos>`` around every sequence (and in the vocabulary).
        unknown: "error" (default) or "drop" - what to do with tokens the vocabulary lacks.

    Example:
        >>> collater = TextTokenCollater(SymbolTable.from_symbols(["a", "b"]))
        >>> collater([["a", "b"], ["b"]])
        (tensor([[1, 4, 5, 2], [1, 5, 2, 0]]), tensor([4, 3], dtype=torch.int32))
    """

    def __init__(
        self,
        symbols: SymbolTable | Iterable[str],
        add_bos: bool = True,
        add_eos: bool = True,
        unknown: UnknownPolicy = "error",
    ) -> None:
        if unknown not in ("error", "drop"):
            raise InvalidInputError(f"unknown-symbol policy must be 'error' or 'drop', got {unknown!r}")
        tokens = symbols.symbols if isinstance(symbols, SymbolTable) else list(symbols)
        if len(set(tokens)) != len(tokens):
            dupes = sorted({t for t in tokens if tokens.count(t) > 1})
            raise InvalidInputError(f"text symbols must be unique; repeated: {', '.join(dupes)}")
        reserved = sorted({PAD, BOS, EOS} & set(tokens))
        if reserved:
            raise InvalidInputError(f"text symbols must not contain the reserved {', '.join(reserved)}")
        self.add_bos = add_bos
        self.add_eos = add_eos
        self.unknown = unknown
        self.pad_symbol, self.bos_symbol, self.eos_symbol = PAD, BOS, EOS
        self.vocab: list[str] = [PAD] + ([BOS] if add_bos else []) + ([EOS] if add_eos else []) + sorted(tokens)
        self.token2idx: dict[str, int] = {t: i for i, t in enumerate(self.vocab)}

    @classmethod
    def from_symbol_table(
        cls,
        table: SymbolTable | str | os.PathLike[str],
        add_bos: bool = True,
        add_eos: bool = True,
        unknown: UnknownPolicy = "error",
    ) -> TextTokenCollater:
        """Collater for a `SymbolTable` or a ``unique_text_tokens.k2symbols`` path (the reference's
        `get_text_token_collater`)."""
        if not isinstance(table, SymbolTable):
            table = SymbolTable.from_file(table)
        return cls(table, add_bos=add_bos, add_eos=add_eos, unknown=unknown)

    @property
    def idx2token(self) -> list[str]:
        return self.vocab

    @property
    def pad_id(self) -> int:
        return self.token2idx[PAD]

    def __len__(self) -> int:
        return len(self.vocab)

    def _known(self, tokens: Sequence[str], text: str | None) -> list[str]:
        missing = sorted({t for t in tokens if t not in self.token2idx})
        if not missing:
            return list(tokens)
        shown = text if text is not None else " ".join(tokens)
        listed = ", ".join(repr(t) for t in missing)
        if self.unknown == "error":
            raise InvalidInputError(
                f"text {shown!r} has symbol(s) {listed} that this model's symbol table lacks; "
                "rephrase or respell the text, or collate with unknown='drop'"
            )
        logger.warning("dropping symbol(s) %s that the symbol table lacks, from text %r", listed, shown)
        return [t for t in tokens if t in self.token2idx]

    def __call__(
        self, token_lists: Sequence[Sequence[str]], texts: Sequence[str] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Ids and lengths of a batch.

        Args:
            token_lists: B token lists (from `TextTokenizer.tokenize`).
            texts: the B source texts, only to name them in unknown-symbol messages.

        Returns:
            tokens: int64 [B, L], ``<bos> t... <eos>`` then ``<pad>`` (0) up to the longest.
            lengths: int32 [B], length of each row with BOS/EOS, before padding (the reference's dtype).
        """
        if isinstance(token_lists, str) or not len(token_lists):
            raise InvalidInputError("collate needs a non-empty list of token lists, e.g. [['h', 'ə']]")
        if texts is not None and len(texts) != len(token_lists):
            raise InvalidInputError(f"got {len(texts)} texts for {len(token_lists)} token lists")
        bos = [self.token2idx[BOS]] if self.add_bos else []
        eos = [self.token2idx[EOS]] if self.add_eos else []
        rows = []
        for i, tokens in enumerate(token_lists):
            if isinstance(tokens, str):
                raise InvalidInputError(f"token list #{i} is a string {tokens!r}; pass a list of tokens")
            known = self._known(tokens, None if texts is None else texts[i])
            rows.append(bos + [self.token2idx[t] for t in known] + eos)
        lengths = [len(r) for r in rows]
        batch = torch.full((len(rows), max(lengths)), self.pad_id, dtype=torch.int64)
        for i, row in enumerate(rows):
            batch[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
        return batch, torch.tensor(lengths, dtype=torch.int32)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of an id sequence, without ``<pad>``/``<bos>``/``<eos>`` (for logs and debugging)."""
        special = {PAD, BOS, EOS}
        return [self.vocab[int(i)] for i in ids if self.vocab[int(i)] not in special]
