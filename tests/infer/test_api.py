"""The top-level API: `valle.load_model`, `valle.available_models`, `valle.synthesize`; lazy imports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import valle
from valle.errors import InvalidInputError


def test_import_is_lazy() -> None:
    code = "import sys, valle, valle.infer; assert 'torch' not in sys.modules, 'torch imported'; print(valle.__all__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "load_model" in out and "synthesize" in out and "available_models" in out


def test_named_models_come_from_the_model_dir(exp_dir: Path, tmp_path: Path, monkeypatch, prompt_files) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(exp_dir / "best.pt", models / "tiny-en.pt")
    shutil.copy(exp_dir / "codec.pt", models / "codec.pt")  # found next to the checkpoint
    monkeypatch.setenv("VALLE_MODEL_DIR", str(models))
    assert valle.available_models() == ["synth-small", "debug", "tiny-en"]  # the codec file is not a model
    synth = valle.load_model("tiny-en", device="cpu")
    wav, sr = synth.synthesize("Hi.", *prompt_files[0], top_k=1, max_new_frames=4)
    assert sr == 24_000 and 0 < len(wav) <= 4 * 320
    with pytest.raises(InvalidInputError, match="model 'tiny-fr'.*available: synth-small, debug, tiny-en"):
        valle.load_model("tiny-fr")


def test_synthesize_one_call_loads_once(exp_dir: Path, prompt_files) -> None:
    from valle.infer import api

    ckpt = str(exp_dir / "best.pt")
    a, _ = valle.synthesize("Hello.", *prompt_files[0], model=ckpt, device="cpu", top_k=1, max_new_frames=6)
    b, _ = valle.synthesize("Hello.", *prompt_files[0], model=ckpt, device="cpu", top_k=1, max_new_frames=6)
    np.testing.assert_array_equal(a, b)
    assert sum(key[0] == ckpt for key in api._LOADED) == 1


def test_debug_model_speaks_without_files() -> None:
    synth = valle.load_model("debug", device="cpu")
    noise = np.random.default_rng(0).standard_normal(24_000).astype(np.float32) * 0.1
    wav, sr = synth.synthesize("Testing one two.", noise, "A prompt.", top_k=1, max_new_frames=5)
    assert sr == 24_000 and len(wav) == 5 * 320
