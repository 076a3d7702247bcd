"""Codec fixtures: a tiny built-in codec fitted on the synthetic corpus, a random-weight EnCodec."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from valle.codec import BuiltinCodec, EncodecCodec, fit_builtin_codec, random_encodec
from valle.codec.sources import list_audio_files


@pytest.fixture(scope="session")
def corpus_files(small_corpus: Path) -> list[Path]:
    """Training-part wav files of the session's synthetic corpus."""
    return list_audio_files(small_corpus / "train-clean-100")


@pytest.fixture(scope="session")
def tiny_codec(corpus_files: list[Path]) -> BuiltinCodec:
    """8 x 16 built-in codec fitted in about a second (small codebooks, few iterations)."""
    return fit_builtin_codec(corpus_files, num_codebooks=8, codebook_size=16, iterations=6, seed=0)


@pytest.fixture(scope="session")
def encodec() -> EncodecCodec:
    """EnCodec 24 kHz with random weights and initialised codebooks (no download)."""
    return random_encodec(seed=0)


@pytest.fixture()
def speech(corpus_files: list[Path]) -> torch.Tensor:
    """One real (synthetic-voice) utterance, mono 24 kHz, cut to 1.2 s to keep vocoding fast."""
    from valle.codec import load_audio

    wav, _ = load_audio(corpus_files[0])
    return wav[:28_800]
