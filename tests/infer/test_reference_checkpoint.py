"""lifeiteng/vall-e checkpoints through the Synthesizer: --text-tokens is required, EnCodec is assumed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from valle.errors import CheckpointError, MissingFileError
from valle.infer import Synthesizer

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

TEXT = "To get up and running quickly."


@pytest.fixture(scope="module")
def encodec():  # -> EncodecCodec
    from valle.codec import random_encodec

    return random_encodec(seed=0)


@pytest.fixture()
def text_tokens(prompt_files, tmp_path: Path) -> Path:
    """A k2symbols file covering the espeak phonemes of the test sentences (as `valle tokenize` writes it)."""
    from valle.text import SymbolTable, TextTokenizer

    tok = TextTokenizer(backend="espeak", normalize=False)
    tokens = [t for line in tok.tokenize([TEXT, prompt_files[0][1]]) for t in line]
    path = tmp_path / "unique_text_tokens.k2symbols"
    SymbolTable.from_symbols(tokens).to_file(path)
    return path


def test_reference_checkpoint_needs_text_tokens(reference_dir: Path, encodec) -> None:
    with pytest.raises(CheckpointError, match="--text-tokens unique_text_tokens.k2symbols"):
        Synthesizer.from_checkpoint(reference_dir / "lifeiteng_ckpt/epoch-1.pt", codec=encodec)


def test_reference_checkpoint_without_local_encodec_weights_says_so(
    reference_dir: Path, text_tokens: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    monkeypatch.delenv("VALLE_ENCODEC_CHECKPOINT", raising=False)
    with pytest.raises(MissingFileError, match="trained on EnCodec codes.*--codec encodec:PATH"):
        Synthesizer.from_checkpoint(reference_dir / "lifeiteng_ckpt/epoch-1.pt", text_tokens=text_tokens)


def test_reference_checkpoint_synthesizes_like_its_generate(
    reference_dir: Path, text_tokens: Path, encodec, prompt_files
) -> None:
    synth = Synthesizer.from_checkpoint(
        reference_dir / "lifeiteng_ckpt/epoch-1.pt", codec=encodec, text_tokens=text_tokens
    )
    wav_path, transcript = prompt_files[0]
    voice = synth.make_voice(wav_path, transcript)
    wav, sr = synth.synthesize(TEXT, voice=voice, top_k=1, max_new_frames=20)
    ids, lens = synth.collater()([synth.tokenizer.tokenize([f"{transcript} {TEXT}"])[0]])
    codes = synth.model.generate(ids, lens, voice.codes[None], top_k=1, max_new_frames=20)[0]
    assert sr == 24_000 and len(wav) == codes.shape[0] * 320
    np.testing.assert_array_equal(wav, synth.vocode(codes))
