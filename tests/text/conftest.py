"""Fixtures for the text front-end tests: one tokenizer per backend, built once per session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="session")
def reference_tokenizers():
    """Tokenizers with the reference's settings (normalize off), keyed by backend; espeak only if installed."""
    from valle.text import TextTokenizer

    backends = ["pypinyin", "pypinyin_initials_finals"]
    if shutil.which("espeak-ng"):
        backends.append("espeak")
    return {b: TextTokenizer(backend=b, language="en-us", normalize=False) for b in backends}


def load_cases(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cases"]
