"""Voices: an acoustic prompt encoded once (codes + transcript + phonemes), saved, and reused by name.

Why: encoding a prompt costs a codec pass (about a second of CPU per 10 s of audio with the built-in
codec) and phonemizing its transcript; a server answering many requests in one voice should pay that
once.  `valle make-voice` writes a voice file; `valle infer --voice NAME` and `Synthesizer.synthesize(...,
voice=...)` use it without touching the audio again.

File format (`torch.save` dict of plain data, read with `weights_only=True`):

    format "valle-voice", version 1, name, text (the transcript), tokens (its phonemes),
    codes int16 [T, Q] (75 frames/s), codec (identity of the codec that made the codes),
    tokenizer (settings of the text front-end that made the tokens), sources (prompt file names)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from valle.codec.audio import FRAME_RATE
from valle.errors import CheckpointError, DataError, InvalidInputError, MissingFileError, require_file
from valle.utils import atomic_write, cache_path

FORMAT = "valle-voice"
VERSION = 1
SUFFIX = ".voice.pt"
ENV_VOICE_DIR = "VALLE_VOICE_DIR"


@dataclass
class Voice:
    """A reusable acoustic prompt.

    Attributes:
        codes: [T, Q] int64 codec codes of the prompt audio (several prompts are concatenated in time).
        text: transcript of the prompt ('' when unknown).
        tokens: `text` as tokens of the tokenizer in `tokenizer`.
        codec: identity of the codec that produced `codes` (checked against the model's codec on use).
        tokenizer: settings of the text front-end that produced `tokens` (None = unknown).
        name: a label for logs and file names.
        sources: where the audio came from (file names), for provenance.
    """

    codes: Tensor
    text: str
    tokens: list[str]
    codec: dict[str, Any]
    tokenizer: dict[str, Any] | None = None
    name: str = ""
    sources: list[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return int(self.codes.shape[0])

    @property
    def duration(self) -> float:
        """Seconds of prompt audio (75 code frames per second)."""
        return self.num_frames / FRAME_RATE

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the voice file atomically; returns the path."""
        payload = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "text": self.text,
            "tokens": list(self.tokens),
            "codes": self.codes.to(torch.int16).cpu(),  # codes < 1024 fit int16 (the on-disk convention)
            "codec": self.codec,
            "tokenizer": self.tokenizer,
            "sources": list(self.sources),
        }
        with atomic_write(path) as tmp:
            torch.save(payload, tmp)
        readable_by_all(path)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Voice:
        """Read a voice file written by `save`.

        Raises:
            MissingFileError: no such file.  DataError: not a valle voice file, or a newer version.
        """
        p = require_file(path, "voice file", "create it with `valle make-voice`")
        try:
            d = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:  # unpickling raises many types on a corrupt or foreign file
            raise DataError(
                f"cannot read voice file {p} ({str(e).splitlines()[0]}); remake it with `valle make-voice`"
            ) from e
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise DataError(f"{p} is not a valle voice file; create one with `valle make-voice`")
        if int(d.get("version", 0)) > VERSION:
            raise DataError(f"voice file {p} has version {d['version']}; this valle reads <= {VERSION}, upgrade valle")
        codes = d["codes"]
        if not isinstance(codes, Tensor) or codes.ndim != 2 or codes.shape[0] == 0:
            raise DataError(f"voice file {p} holds no usable codes; recreate it with `valle make-voice`")
        return cls(
            codes=codes.to(torch.int64), text=str(d.get("text", "")), tokens=list(d.get("tokens", [])),
            codec=dict(d.get("codec") or {}), tokenizer=d.get("tokenizer"), name=str(d.get("name", "")),
            sources=list(d.get("sources", [])),
        )  # fmt: skip

    def check_codec(self, identity: dict[str, Any]) -> None:
        """Raise `CheckpointError` unless the voice's codes come from the codec with `identity`."""
        mine, theirs = self.codec.get("content_hash"), identity.get("content_hash")
        if mine != theirs or self.codec.get("backend") != identity.get("backend"):
            raise CheckpointError(
                f"voice {self.name or '(unnamed)'} was encoded with codec {self.codec.get('backend')} "
                f"(hash {str(mine)[:12]}) but the model uses {identity.get('backend')} (hash {str(theirs)[:12]}); "
                "remake the voice with this model (`valle make-voice --checkpoint ...`)"
            )


def readable_by_all(path: str | os.PathLike[str]) -> None:
    """Give a file the permissions of a normally created one (`atomic_write`'s temporary files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def default_voice_dir() -> Path:
    """`$VALLE_VOICE_DIR`, else `~/.cache/valle/voices` (where `valle make-voice --name` writes)."""
    return cache_path("voices", ENV_VOICE_DIR)


# A voice's name is its file's name, in `valle make-voice` and in the server's URLs alike: no dots (so no `..` or
# hidden files), no slashes, nothing a URL or a shell must quote.
VOICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_voice_name(name: object, what: str = "voice name") -> str:
    """Return `name` if it is a safe voice name, else raise `InvalidInputError` saying what is allowed."""
    if not isinstance(name, str) or not VOICE_NAME.fullmatch(name):
        shown = name if isinstance(name, str) and len(name) <= 80 else f"{str(name)[:80]}..."
        raise InvalidInputError(
            f"{what} {shown!r} is not allowed; use 1-64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return name


def voice_path(name: str, voice_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the voice called `name` lives in `voice_dir` (default `default_voice_dir()`)."""
    return Path(voice_dir or default_voice_dir()) / f"{check_voice_name(name)}{SUFFIX}"


def available_voices(voice_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the voices saved in `voice_dir`."""
    d = Path(voice_dir or default_voice_dir())
    return sorted(p.name[: -len(SUFFIX)] for p in d.glob(f"*{SUFFIX}")) if d.is_dir() else []


def find_voice(name_or_path: str | os.PathLike[str], voice_dir: str | os.PathLike[str] | None = None) -> Voice:
    """Load a voice from a file path, or by name from `voice_dir`.

    Raises:
        MissingFileError: neither a file nor a saved name (the message lists the saved names).
    """
    p = Path(name_or_path)
    if p.is_file():
        return Voice.load(p)
    name = str(name_or_path)
    if os.sep not in name and "/" not in name:
        candidate = voice_path(name, voice_dir)
        if candidate.is_file():
            return Voice.load(candidate)
    names = available_voices(voice_dir)
    listed = ", ".join(names) if names else "none yet"
    raise MissingFileError(
        f"no voice {name!r} (not a file, and not saved in {Path(voice_dir or default_voice_dir())}: {listed}); "
        "create it with `valle make-voice --name NAME ...`"
    )
