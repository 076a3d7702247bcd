"""EnCodec backend (random weights; tests never download): shapes, bitrate, determinism, batching, loading."""

from __future__ import annotations

import sys
import urllib.error
from pathlib import Path

import pytest
import torch

from valle.codec import EncodecCodec, load_codec, load_encodec, random_encodec
from valle.codec import encodec_backend as eb
from valle.errors import CheckpointError, MissingFileError


def _noise(n: int, seed: int) -> torch.Tensor:
    return 0.1 * torch.randn(n, generator=torch.Generator().manual_seed(seed))


def test_shapes_and_bitrate(encodec: EncodecCodec) -> None:
    assert (encodec.sample_rate, encodec.frame_rate, encodec.num_codebooks, encodec.codebook_size) == (
        24_000, 75, 8, 1024)
    assert encodec.bitrate == 6000.0  # 8 codebooks x 10 bits x 75 frames/s = 6 kbps
    codes = encodec.encode(_noise(48_000, 0)[None])
    assert codes.shape == (1, 8, 150) and codes.dtype == torch.long
    assert 0 <= int(codes.min()) and int(codes.max()) < 1024
    assert len(torch.unique(codes)) > 50  # codebooks initialised: not all zeros
    assert encodec.identity["backend"] == "encodec" and encodec.identity["bandwidth_kbps"] == 6.0


def test_batch_equals_single_for_mixed_lengths(encodec: EncodecCodec) -> None:
    lengths = [24_000, 7001, 320, 2560, 2561, 15_999]
    wavs = [_noise(n, i) for i, n in enumerate(lengths)]
    batch = encodec.encode(wavs)
    assert [b.shape[-1] for b in batch] == [-(-n // 320) for n in lengths]
    for w, b in zip(wavs, batch):
        assert torch.equal(encodec.encode(w[None])[0], b)


def test_deterministic_and_identity(encodec: EncodecCodec) -> None:
    again = random_encodec(seed=0)
    x = _noise(9000, 3)
    assert again.identity == encodec.identity
    assert torch.equal(again.encode(x[None]), encodec.encode(x[None]))
    other = random_encodec(seed=1)
    with pytest.raises(CheckpointError, match="different content_hash"):
        encodec.check_compatible(other.identity)
    assert "torchaudio" not in sys.modules  # the import stand-in is removed again


def test_decode_shape(encodec: EncodecCodec) -> None:
    codes = encodec.encode([_noise(8000, 4), _noise(8000, 5)])
    stacked = torch.stack(codes)  # [2, 8, 25]
    assert encodec.decode(stacked).shape == (2, 25 * 320)
    assert encodec.decode(stacked[:, :1]).shape == (2, 25 * 320)


def test_decode_frames_of_code_vectors_equals_decode(encodec: EncodecCodec) -> None:
    codes = torch.stack(encodec.encode([_noise(8000, 6), _noise(8000, 7)]))  # [2, 8, 25]
    vectors = encodec.code_vectors()  # [Q, K, D]: each residual layer's codebook in the latent space
    assert vectors.shape == (8, 1024, 128)
    frames = sum(vectors[q][codes[:, q]] for q in range(8))  # [2, 25, 128]
    assert torch.allclose(encodec.decode_frames(frames), encodec.decode(codes), atol=1e-5)
    soft = frames + 0.1 * vectors[3].mean(0)  # not the sum of any codes' vectors: still decodes
    assert encodec.decode_frames(soft).shape == (2, 25 * 320)


@pytest.fixture()
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Empty torch hub dir, no env var, and a download that fails like an offline machine."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(eb.ENV_VAR, raising=False)

    def no_network(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path


def test_offline_error_names_file_url_and_place(offline: Path) -> None:
    with pytest.raises(MissingFileError) as info:
        load_codec("encodec")
    msg = str(info.value)
    assert eb.CHECKPOINT_NAME in msg and eb.CHECKPOINT_URL in msg
    assert str(offline / "torch" / "hub" / "checkpoints") in msg and "network unreachable" in msg
    with pytest.raises(MissingFileError, match=r"EnCodec checkpoint .*missing\.th does not exist; pass the path"):
        load_encodec(offline / "missing.th")


def test_checkpoint_search_order(offline: Path, encodec: EncodecCodec, monkeypatch: pytest.MonkeyPatch) -> None:
    state = encodec.model.state_dict()
    cached = eb.hub_checkpoint_path()
    cached.parent.mkdir(parents=True)
    torch.save(state, cached)
    from_cache = load_codec("encodec")  # hub cache file found: no download
    assert from_cache.identity["content_hash"] == encodec.identity["content_hash"]
    assert from_cache.identity["weights"] == "official"

    explicit = offline / "explicit.th"
    torch.save(random_encodec(seed=2).model.state_dict(), explicit)
    monkeypatch.setenv(eb.ENV_VAR, str(explicit))
    assert eb.find_checkpoint() == explicit  # env var beats the hub cache
    assert eb.find_checkpoint(cached) == cached  # an explicit path beats the env var
    monkeypatch.setenv(eb.ENV_VAR, str(offline / "gone.th"))
    with pytest.raises(MissingFileError, match="VALLE_ENCODEC_CHECKPOINT"):
        eb.find_checkpoint()


def test_bad_checkpoint(offline: Path) -> None:
    bad = offline / "bad.th"
    torch.save({"not": torch.zeros(1)}, bad)
    with pytest.raises(CheckpointError, match="not a usable EnCodec"):
        load_codec(f"encodec:{bad}")


def test_random_encodec_is_the_same_codec_whatever_the_thread_count() -> None:
    """A checkpoint records the codec's content hash; a server running other thread counts must match it."""
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = random_encodec(3).identity
        torch.set_num_threads(2)
        two = random_encodec(3).identity
        assert torch.get_num_threads() == 2  # restored
    finally:
        torch.set_num_threads(threads)
    assert one == two
