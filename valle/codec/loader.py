"""`load_codec(spec)`: one string names any codec (CLI flags, configs and checkpoints use it)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from valle.codec.base import AudioTokenizer
from valle.errors import InvalidInputError, MissingFileError
from valle.utils import cache_path

ENV_CODEC = "VALLE_CODEC"  # a spec used when none is given


def default_builtin_path() -> Path:
    """Where `valle fit-codec` writes when no --out is given, and where `load_codec(None)` looks."""
    return cache_path("codec.pt")


def load_codec(
    spec: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu", vocoder: str | None = None
) -> AudioTokenizer:
    """Build the codec named by `spec`.

    Args:
        spec: one of
            - "encodec": EnCodec 24 kHz with official weights ($VALLE_ENCODEC_CHECKPOINT, torch hub cache,
              else download);  "encodec:PATH": from that checkpoint file;
            - "builtin:PATH" or just PATH: a built-in codec file written by `valle fit-codec`;
            - "builtin": the default built-in codec file (`~/.cache/valle/codec.pt`);
            - None: `$VALLE_CODEC` if set; else EnCodec if its checkpoint is present locally (never
              downloads); else the default built-in codec file.
        device: where the codec runs.
        vocoder: built-in codec only: override the file's vocoder ("hifigan" or "griffin-lim").

    Raises:
        MissingFileError: the named file does not exist, or nothing is configured for the default.
        InvalidInputError: an unknown backend name.
    """
    if spec is None:
        return load_codec(_default_spec(), device, vocoder)
    text = os.fspath(spec)
    backend, _, arg = text.partition(":")
    if backend == "encodec":
        from valle.codec.encodec_backend import load_encodec

        return load_encodec(arg or None, device=device)
    if backend == "builtin":
        path = Path(arg) if arg else default_builtin_path()
        return _load_builtin(path, device, vocoder)
    if _looks_like_path(text):
        return _load_builtin(Path(text), device, vocoder)
    raise InvalidInputError(
        f"unknown codec {text!r}; use 'encodec', 'encodec:CHECKPOINT', 'builtin:CODEC_FILE' or a codec file path"
    )


def _looks_like_path(text: str) -> bool:
    # Windows drive letters contain ':' too; anything with a separator or suffix, or an existing file, is a path.
    return Path(text).exists() or os.sep in text or "." in Path(text).name


def _load_builtin(path: Path, device: str | torch.device, vocoder: str | None) -> AudioTokenizer:
    from valle.codec.builtin import VOCODERS, BuiltinCodec

    if vocoder is not None and vocoder not in VOCODERS:
        raise InvalidInputError(f"unknown vocoder {vocoder!r}; choose one of {', '.join(VOCODERS)}")
    return BuiltinCodec.load(path, device=device, vocoder=vocoder)  # type: ignore[arg-type]


def _default_spec() -> str:
    env = os.environ.get(ENV_CODEC)
    if env:
        return env
    from valle.codec.encodec_backend import find_checkpoint

    if find_checkpoint() is not None:
        return "encodec"
    path = default_builtin_path()
    if path.is_file():
        return f"builtin:{path}"
    raise MissingFileError(
        f"no codec configured: fit one with `valle fit-codec --audio TRAIN_AUDIO_DIR` (writes {path}), "
        f"pass --codec CODEC_FILE, set ${ENV_CODEC}, or put the EnCodec checkpoint in the torch hub cache"
    )
