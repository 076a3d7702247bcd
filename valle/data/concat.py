"""Training examples in the inference layout: another utterance of the same speaker, then the utterance.

Why: at inference the AR reads `[prompt text ; text]` and continues `[prompt codes ; ...]`, i.e. two utterances
joined.  Trained only on single utterances (prefix mode 1, as the reference), a model never sees that join:
the shipped 8 x 192 checkpoint's teacher-forced AR loss on a dev utterance was 1.45 alone and 1.73 after a
same-speaker prompt utterance (docs/pretrained).  With `--concat-prompt-prob p` a training utterance is, with
probability p, preceded (text and codes) by a short utterance of its speaker, as a voice prompt would be.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from lhotse import CutSet

from valle.data.prompts import original_id


class PromptConcatenator:
    """Picks, per training cut, a same-speaker utterance to put in front of it (or none).

    Args:
        cuts: the cuts that may precede (usually the training split, without `--repeat-train` copies).
        prob: chance that a cut gets a preceding utterance.
        max_duration: longest preceding utterance in seconds (a voice prompt's length; whole utterances are
            used, never crops, so the joined text still matches the joined audio).
    """

    def __init__(self, cuts: CutSet, prob: float, max_duration: float = 3.0) -> None:
        self.prob = prob
        self.by_speaker: dict[str, list[Any]] = defaultdict(list)
        for c in cuts:
            if c.duration <= max_duration:
                self.by_speaker[c.supervisions[0].speaker or ""].append(c)
        for group in self.by_speaker.values():
            group.sort(key=lambda c: c.id)  # a stable order, so a seeded choice is reproducible

    def pick(self, cut: Any, rng: random.Random) -> Any | None:
        """A preceding cut for `cut` with probability `prob` (never `cut` itself), else None."""
        if self.prob <= 0 or rng.random() >= self.prob:
            return None
        own = original_id(cut.id)
        group = [c for c in self.by_speaker.get(cut.supervisions[0].speaker or "", []) if c.id != own]
        return rng.choice(group) if group else None
