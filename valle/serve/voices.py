"""`VoiceStore`: the server's voices folder, where every id is checked before it becomes a path.

Why a class of its own: voice ids arrive from the network, so this is the one place where untrusted text
turns into file names.  An id must match `VOICE_ID` (letters, digits, `-`, `_`; no dots, so no `..` and
no hidden files), and the path it gives must resolve to a file directly inside the folder (which also
defeats symlinks planted there).  Loaded voices are cached, keyed by file modification time, so a request
never re-reads a file that has not changed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valle.errors import InvalidInputError, MissingFileError, ValleError
from valle.infer.voice import SUFFIX, VOICE_NAME, Voice, check_voice_name

VOICE_ID = VOICE_NAME  # the server's voice ids are `valle make-voice` names


class VoiceExistsError(ValleError, FileExistsError):
    """A voice with this id is saved already."""


@dataclass(frozen=True)
class VoiceInfo:
    """What the API tells about a voice (never its codes)."""

    id: str
    transcript: str
    duration_s: float
    created: int  # unix seconds (the file's modification time)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "object": "voice", "transcript": self.transcript,
                "duration_s": round(self.duration_s, 3), "created": self.created}  # fmt: skip


def check_voice_id(voice_id: str) -> str:
    """Return `voice_id` if it is a safe voice id, else raise `InvalidInputError` saying what is allowed."""
    return check_voice_name(voice_id, "voice id")


class VoiceStore:
    """Voices saved as `ID.voice.pt` directly inside `root`.

    Args:
        root: the voices folder (created if missing).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InvalidInputError(f"cannot create the voices folder {self.root} ({e.strerror}); pass --voices DIR "
                                    "with a folder this user can write") from None  # fmt: skip
        self._real_root = self.root.resolve()
        self._cache: dict[str, tuple[float, Voice]] = {}
        self._lock = threading.Lock()

    def path(self, voice_id: str) -> Path:
        """The file of `voice_id` (which need not exist); raises `InvalidInputError` for an unsafe id."""
        check_voice_id(voice_id)
        path = self.root / f"{voice_id}{SUFFIX}"
        if path.resolve().parent != self._real_root:  # a symlink pointing out of the folder
            raise InvalidInputError(f"voice {voice_id!r} points outside the voices folder; remove that file")
        return path

    def ids(self) -> list[str]:
        """Ids of the saved voices, sorted (files whose names are not valid ids are ignored)."""
        names = (p.name[: -len(SUFFIX)] for p in self.root.glob(f"*{SUFFIX}"))
        return sorted(n for n in names if VOICE_ID.fullmatch(n))

    def get(self, voice_id: str) -> Voice:
        """Load (or reuse) the voice `voice_id`.

        Raises:
            InvalidInputError: unsafe id.  MissingFileError: no such voice (the message lists the saved ones).
            DataError: the file is not a readable voice.
        """
        path = self.path(voice_id)
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            saved = self.ids()
            listed = ", ".join(saved[:20]) + (" ..." if len(saved) > 20 else "") if saved else "none yet"
            raise MissingFileError(
                f"no voice {voice_id!r} (saved voices: {listed}); upload one with POST /v1/voices"
            ) from None
        with self._lock:
            cached = self._cache.get(voice_id)
            if cached is not None and cached[0] == mtime:
                return cached[1]
        voice = Voice.load(path)
        with self._lock:
            self._cache[voice_id] = (mtime, voice)
        return voice

    def info(self, voice_id: str) -> VoiceInfo:
        voice = self.get(voice_id)
        created = int(self.path(voice_id).stat().st_mtime)
        return VoiceInfo(voice_id, voice.text, voice.duration, created)

    def list(self) -> list[VoiceInfo]:
        """Every readable voice; unreadable files are skipped (they are reported when asked for by id)."""
        out = []
        for voice_id in self.ids():
            try:
                out.append(self.info(voice_id))
            except (ValleError, FileNotFoundError):  # deleted meanwhile, or not a voice file
                continue
        return out

    def add(self, voice_id: str, voice: Voice) -> VoiceInfo:
        """Save `voice` as `voice_id`.

        Raises:
            InvalidInputError: unsafe id.  VoiceExistsError: the id is taken (delete it first).
        """
        path = self.path(voice_id)
        with self._lock:
            if path.exists():
                raise VoiceExistsError(f"voice {voice_id!r} exists already; delete it first or choose another id")
            voice.name = voice_id
            voice.save(path)
            self._cache[voice_id] = (path.stat().st_mtime, voice)
        return self.info(voice_id)

    def delete(self, voice_id: str) -> None:
        """Remove the voice file.  Raises `MissingFileError` if there is none."""
        path = self.path(voice_id)
        with self._lock:
            try:
                path.unlink()
            except FileNotFoundError:
                raise MissingFileError(f"no voice {voice_id!r} to delete; GET /v1/voices lists the saved ones") from None
            self._cache.pop(voice_id, None)
