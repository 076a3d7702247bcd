"""Acoustic prompts for prefix mode 4: a <= 3 s crop of a neighbouring utterance of the same speaker.

As the reference's PromptedPrecomputedFeatures: for LibriTTS-style ids (speaker_book_x_y) the neighbours are
the previous and next utterance of the same speaker in sorted id order; for LJSpeech (one speaker, ids
LJ001-0001) the neighbours within the same chapter prefix; for any other corpus every other utterance of the
same speaker.  A cut with no neighbour is its own prompt (as the reference does).  Unlike the reference, the
choice and crop offset come from a seeded RNG owned by the dataset, so batches are reproducible.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from typing import Any

from lhotse import CutSet

from valle.errors import InvalidInputError

STRATEGIES = ("libritts", "ljspeech", "speaker")
REPEAT_SUFFIX = re.compile(r"_repeat\d+$")  # what lhotse's CutSet.repeat(preserve_id=False) appends to ids


def original_id(cut_id: str) -> str:
    """The id of the cut a `--repeat-train` copy was made from (other ids unchanged)."""
    return REPEAT_SUFFIX.sub("", cut_id)


class PromptSelector:
    """Maps every cut id to its candidate prompt cuts and cuts batch-consistent crops from them.

    Args:
        cuts: every cut that may be a prompt (usually the whole split being trained on).
        strategy: "libritts", "ljspeech" or "speaker" (see module docstring).
        max_duration: longest prompt in seconds.
    """

    def __init__(self, cuts: CutSet, strategy: str = "libritts", max_duration: float = 3.0) -> None:
        if strategy not in STRATEGIES:
            raise InvalidInputError(f"unknown prompt strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        self.max_duration = max_duration
        self.neighbors: dict[str, list[Any]] = defaultdict(list)
        by_id = {c.id: c for c in cuts}
        if strategy == "ljspeech":
            groups = {"all": sorted(by_id)}
        else:
            spk: dict[str, list[str]] = defaultdict(list)
            for c in by_id.values():
                spk[c.supervisions[0].speaker or c.id].append(c.id)
            groups = {k: sorted(v) for k, v in spk.items()}
        for ids in groups.values():
            for i, utt in enumerate(ids):
                if strategy == "speaker":
                    near = [u for u in ids if u != utt]
                else:
                    near = [ids[j] for j in (i - 1, i + 1) if 0 <= j < len(ids)]
                    if strategy == "ljspeech":  # same chapter (LJ001-...) when possible
                        near = [u for u in near if u[:5] == utt[:5]] or near[:1]
                self.neighbors[utt] = [by_id[u] for u in near] or [by_id[utt]]

    def crops(self, cuts: CutSet, rng: random.Random) -> CutSet:
        """One prompt per cut: a random neighbour, all cropped to the batch's shortest prompt (<= max_duration)."""
        picks = []
        for cut in cuts:
            key = cut.id if cut.id in self.neighbors else original_id(cut.id)  # --repeat-train copies
            if key not in self.neighbors:
                raise InvalidInputError(f"cut {cut.id} has no prompt candidates; build PromptSelector from its split")
            picks.append(rng.choice(self.neighbors[key]))
        duration = min([p.duration for p in picks] + [self.max_duration])
        out = []
        for k, p in enumerate(picks):
            offset = rng.uniform(0.0, p.duration - duration)
            out.append(p.truncate(offset=offset, duration=duration, preserve_id=False).with_id(f"{cuts[k].id}-prompt{k}"))
        return CutSet.from_cuts(out)
