"""`valle fit-codec` and `valle codec-info` end to end on the small synthetic corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from valle.cli import main
from valle.codec import load_codec


def test_fit_codec_then_roundtrip(small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "codec.pt"
    code = main(["fit-codec", "--audio", str(small_corpus / "train-clean-100"), "--out", str(out),
                 "--codebook-size", "16", "--iterations", "3", "--max-files", "12", "--no-progress"])
    assert code == 0 and out.is_file()
    codec = load_codec(out)
    assert (codec.num_codebooks, codec.codebook_size) == (8, 16)
    assert str(out) in capsys.readouterr().out

    wav_in = next((small_corpus / "test-clean").rglob("*.wav"))
    wav_out = tmp_path / "rt.wav"
    code = main(["codec-info", "--codec", str(out), "--vocoder", "griffin-lim", "--num-codebooks", "4",
                 "--roundtrip", str(wav_in), str(wav_out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert codec.identity["content_hash"] in printed and '"bitrate_bps": 2400.0' in printed
    data, sr = sf.read(wav_out)
    assert sr == 24_000 and data.shape[0] == sf.info(wav_in).frames


def test_fit_codec_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit-codec", "--audio", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "audio source not found" in err
    (tmp_path / "empty").mkdir()
    assert main(["fit-codec", "--audio", str(tmp_path / "empty"), "--out", str(tmp_path / "c.pt")]) == 2
    assert "no audio files found" in capsys.readouterr().err


@pytest.mark.parametrize("n", ["0", "-1", "9"])
def test_roundtrip_refuses_a_codebook_count_out_of_range(
    tiny_codec, speech, tmp_path: Path, capsys: pytest.CaptureFixture[str], n: str
) -> None:
    """0 used to mean 'all 8' (a falsy value taken as unset) while 9 was refused; every count outside 1..8 is."""
    tiny_codec.save(tmp_path / "codec.pt")
    sf.write(tmp_path / "in.wav", speech.numpy(), 24_000)
    argv = ["codec-info", "--codec", str(tmp_path / "codec.pt"), "--vocoder", "griffin-lim", "--num-codebooks", n,
            "--roundtrip", str(tmp_path / "in.wav"), str(tmp_path / "out.wav")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--num-codebooks must be 1..8, got {n}" in err, err
    assert not (tmp_path / "out.wav").exists()
