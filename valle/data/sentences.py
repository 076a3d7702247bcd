"""Offline English sentences for the synthetic corpus.

Why fortunes: Debian's `fortunes`/`fortunes-min` packages ship ~16k clean, varied English sentences
(questions, exclamations, commas, quotes) with no download, and `make` installs them.  When they are
absent we fall back to a small list carried in the package so the generator always works; the corpus
then has less text variety, which `valle synth-corpus` reports.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

logger = logging.getLogger(__name__)

FORTUNE_DIRS = ("/usr/share/games/fortunes", "/usr/share/fortunes")
MIN_WORDS, MAX_WORDS = 4, 20

# A speakable sentence: capitalised, plain letters and common punctuation, ends with . ! or ?
_SENTENCE = re.compile(r"^[A-Z][A-Za-z ,.'!?;\-\"]+[.!?]$")
_SPLIT = re.compile(r"(?<=[.!?])\s+")


def _usable(sentence: str) -> bool:
    words = sentence.split()
    return (
        MIN_WORDS <= len(words) <= MAX_WORDS
        and _SENTENCE.match(sentence) is not None
        and "--" not in sentence
        and ".." not in sentence
        and sentence.count('"') % 2 == 0
    )


def _fortune_sentences(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in sorted(folder.iterdir()):
        if path.suffix or not path.is_file():  # skip the .dat/.u8 index files
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for entry in text.split("\n%\n"):
            for sentence in _SPLIT.split(" ".join(entry.split())):
                if _usable(sentence):
                    found.add(sentence)
    return found


@lru_cache(maxsize=1)
def load_sentences() -> tuple[str, ...]:
    """All usable sentences, sorted (so seeded sampling is reproducible across runs and machines)."""
    found: set[str] = set()
    for folder in FORTUNE_DIRS:
        if Path(folder).is_dir():
            found |= _fortune_sentences(Path(folder))
    if not found:
        logger.warning(
            "Debian 'fortunes' not found; using the small built-in sentence list "
            "(install it with: apt-get install fortunes-min fortunes)"
        )
        carried = resources.files("valle.data").joinpath("sentences_en.txt").read_text(encoding="utf-8")
        found = {line.strip() for line in carried.splitlines() if line.strip()}
    return tuple(sorted(found))
