"""Inference fixtures: a tiny valle checkpoint (symbols + tokenizer + built-in codec identity) and prompts.

Everything is made once per session in about a second: an 8 x 16 built-in codec fitted on the synthetic
corpus (Griffin-Lim vocoder, fast to decode), a 2-layer debug model sized for it, and a character front-end.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from valle.codec import BuiltinCodec, fit_builtin_codec
from valle.codec.sources import list_audio_files
from valle.infer.api import DEBUG_SYMBOLS
from valle.models import build_model, debug_config, save_checkpoint
from valle.text import SymbolTable, TextTokenizer


@pytest.fixture(scope="session")
def prompt_files(small_corpus: Path) -> list[tuple[Path, str]]:
    """(wav, transcript) pairs of the synthetic corpus's test part (24 kHz mono, 1-4 s each)."""
    wavs = list_audio_files(small_corpus / "test-clean")
    return [(w, w.with_suffix("").with_suffix(".normalized.txt").read_text().strip()) for w in wavs]


@pytest.fixture(scope="session")
def exp_dir(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding `codec.pt` (tiny built-in codec) and `best.pt` (tiny VALL-E trained on nothing)."""
    out = tmp_path_factory.mktemp("exp")
    files = list_audio_files(small_corpus / "train-clean-100")
    codec = fit_builtin_codec(files, num_codebooks=8, codebook_size=16, iterations=6, seed=0, vocoder="griffin-lim")
    codec.save(out / "codec.pt")
    symbols = SymbolTable.from_symbols(DEBUG_SYMBOLS).symbols
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(debug_config(num_text_tokens=len(symbols) + 3, num_audio_tokens=16))
    tokenizer = TextTokenizer(backend="char", normalize=False).settings()
    save_checkpoint(out / "best.pt", model, symbols=symbols, tokenizer=tokenizer, codec=codec.identity)
    return out


@pytest.fixture(scope="session")
def tiny_codec(exp_dir: Path) -> BuiltinCodec:
    return BuiltinCodec.load(exp_dir / "codec.pt")


@pytest.fixture(scope="session")
def synth(exp_dir: Path):  # -> Synthesizer (imported lazily)
    from valle.infer import Synthesizer

    return Synthesizer.from_checkpoint(exp_dir / "best.pt")


@pytest.fixture(autouse=True)
def _no_user_codec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Codec and voice look-ups must not find files in the developer's own cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("VALLE_CODEC", raising=False)
    monkeypatch.delenv("VALLE_VOICE_DIR", raising=False)
    monkeypatch.delenv("VALLE_MODEL_DIR", raising=False)
