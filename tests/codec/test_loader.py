"""load_codec: spec strings and the default-codec resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from valle.codec import BuiltinCodec, default_builtin_path, load_codec
from valle.codec import encodec_backend as eb
from valle.errors import InvalidInputError, MissingFileError


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("VALLE_CODEC", raising=False)
    monkeypatch.delenv(eb.ENV_VAR, raising=False)
    return tmp_path


def test_unknown_spec() -> None:
    with pytest.raises(InvalidInputError, match="unknown codec 'dac'"):
        load_codec("dac")


def test_missing_builtin_file(clean_env: Path) -> None:
    with pytest.raises(MissingFileError, match="valle fit-codec"):
        load_codec(f"builtin:{clean_env / 'none.pt'}")
    with pytest.raises(MissingFileError, match="codec file .* does not exist; create one with `valle fit-codec"):
        load_codec("builtin")


def test_default_resolution(clean_env: Path, tiny_codec: BuiltinCodec, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingFileError, match="no codec configured"):
        load_codec(None)
    tiny_codec.save(default_builtin_path())
    assert default_builtin_path() == clean_env / "cache" / "valle" / "codec.pt"
    assert load_codec(None).identity == tiny_codec.identity  # the default built-in file
    elsewhere = tiny_codec.save(clean_env / "mine.pt")
    default_builtin_path().unlink()
    monkeypatch.setenv("VALLE_CODEC", f"builtin:{elsewhere}")
    assert load_codec(None).identity == tiny_codec.identity  # $VALLE_CODEC wins


def test_bad_vocoder(tiny_codec: BuiltinCodec, tmp_path: Path) -> None:
    path = tiny_codec.save(tmp_path / "c.pt")
    with pytest.raises(InvalidInputError, match="unknown vocoder"):
        load_codec(path, vocoder="wavenet")
