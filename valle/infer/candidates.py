"""Best of N AR draws: which code reader ranks them, and the `choose` rule `generate_batch` calls.

`SynthesisOptions.candidates = N` decodes every text N times (N rows of one batch, each with its own seed) and
keeps the draw whose codebook 1 the code reader (valle.models.code_reader) reads most plainly as the text: the
lowest CTC loss of the text's phonemes.  A draw too short to hold its text scores +inf; if all N are, the
first is kept.

Dimension legend: R rows (texts x N), F generated frames, U target tokens.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from valle.errors import CheckpointError, InvalidInputError, require_file
from valle.models.code_reader import CodeReader, load_reader

logger = logging.getLogger(__name__)

SHIPPED_READER = Path(__file__).resolve().parents[1] / "assets" / "code-reader.pt"


def reader_file(path: str | os.PathLike[str] | None) -> Path:
    """The reader file to use: `path` (which must exist), else the shipped one."""
    if path is not None:
        return require_file(path, "code reader", "train one with 'valle train-reader'")
    if not SHIPPED_READER.is_file():
        raise InvalidInputError("candidates > 1 needs a code reader and none ships with this install; train one "
                                "with 'valle train-reader' and pass it as --reader")  # fmt: skip
    return SHIPPED_READER


def find_reader(codec: dict[str, Any], path: str | os.PathLike[str] | None, device: torch.device) -> CodeReader:
    """The reader at `path`, else the shipped one; it must read the codes of the codec with identity `codec`."""
    where = reader_file(path)
    reader, meta = load_reader(where, device)
    theirs = meta["codec"] or {}
    if theirs.get("content_hash") != codec.get("content_hash") or theirs.get("backend") != codec.get("backend"):
        hint = "train one on this codec's corpus with 'valle train-reader' and pass it as --reader"
        raise CheckpointError(f"the code reader {where} reads another codec's codes than this model's; {hint}")
    return reader


class BestOfN:
    """`choose` for `generate_batch`: rows come as N draws per text; keep each text's best-read draw.

    Args:
        reader: the code reader.
        targets: per text, its phoneme ids in the synthesizer's text vocabulary (no BOS/EOS).
        vocab: the synthesizer's text vocabulary (id -> symbol), to map ids to the reader's classes.
        n: draws per text.
    """

    def __init__(self, reader: CodeReader, targets: list[Tensor], vocab: list[str], n: int) -> None:
        self.reader, self.n = reader, n
        classes = reader.class_map(vocab)
        mapped = [classes[t] for t in targets]
        self.targets = [m[m >= 0] for m in mapped]  # symbols the reader lacks are skipped
        self.scores: Tensor | None = None  # [texts, N] nats per target token, after a call

    @torch.no_grad()
    def __call__(self, generated: Tensor, gen_lens: Tensor) -> Tensor:
        texts = len(self.targets)
        if generated.shape[0] != texts * self.n:
            raise ValueError(f"expected {texts} x {self.n} rows, got {generated.shape[0]}")
        dev = next(self.reader.parameters()).device
        targets = pad_sequence([t for t in self.targets for _ in range(self.n)], batch_first=True).to(dev)
        target_lens = torch.tensor([len(t) for t in self.targets for _ in range(self.n)], device=dev)
        codes, lens = generated.to(dev).clamp(min=0), gen_lens.to(dev)
        if codes.shape[1] == 0:  # every draw is empty: nothing to read
            return torch.arange(texts, device=generated.device) * self.n
        loss = self.reader.ctc_loss(codes, lens.clamp(min=1), targets, target_lens)  # [R]
        loss = loss.masked_fill(lens == 0, float("inf")) / target_lens.clamp(min=1)
        self.scores = loss.view(texts, self.n).cpu()
        best = torch.nan_to_num(self.scores, nan=float("inf")).argmin(dim=1)  # all +inf: argmin is draw 0
        logger.debug("candidate scores (nats per phoneme): %s; kept %s", self.scores.tolist(), best.tolist())
        return (torch.arange(texts) * self.n + best).to(generated.device)
