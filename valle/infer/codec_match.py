"""Find the codec a checkpoint was trained with (codes from any other codec are noise to the model).

Our checkpoints store the codec's identity (backend, content hash, sizes) but not a file path, since the
model may travel to another machine.  The codec is therefore located in this order:

1. the `codec` argument (`--codec`): an `AudioTokenizer`, or a spec string for `load_codec`; it must
   match the identity;
2. built-in codec: a file recorded in the identity (`path`, if present), `codec.pt` next to the
   checkpoint or one folder up, `$VALLE_CODEC`, the default `~/.cache/valle/codec.pt`, then the codec
   shipped in `valle/assets`; the first
   whose content hash matches wins;
3. EnCodec: the official weights from the local cache (never downloaded here), or the seeded random
   weights named in the identity (`random-seed-N`, used by tests and benchmarks);
4. a lifeiteng/vall-e checkpoint carries no identity: those models were trained on EnCodec codes, so the
   official EnCodec weights are used when present locally.

Anything else is a `CheckpointError` / `MissingFileError` that says to pass `--codec`.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import torch

from valle.codec.base import AudioTokenizer
from valle.errors import CheckpointError, MissingFileError, ValleError

logger = logging.getLogger(__name__)

RANDOM_WEIGHTS = re.compile(r"random-seed-(\d+)$")


def resolve_codec(
    identity: dict[str, Any] | None,
    checkpoint: str | os.PathLike[str],
    override: AudioTokenizer | str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
) -> AudioTokenizer:
    """The codec for a checkpoint whose codec identity is `identity` (None for reference checkpoints).

    Args:
        identity: `model.meta.codec`.
        checkpoint: the checkpoint path (its folder is searched for `codec.pt`).
        override: a codec object or a `load_codec` spec given by the user.
        device: where the codec runs.

    Raises:
        CheckpointError: the given codec does not match, or no matching codec was found.
        MissingFileError: a named codec file does not exist, or EnCodec weights are not available.
    """
    from valle.codec import load_codec

    if override is not None:
        given = override if isinstance(override, AudioTokenizer) else load_codec(override, device=device)
        if identity is not None:
            given.check_compatible(identity)
        return given
    if identity is None:
        why = f"checkpoint {checkpoint} is a lifeiteng/vall-e checkpoint (trained on EnCodec codes)"
        return _encodec_official(why, device)
    backend = identity.get("backend")
    if backend == "builtin":
        return _find_builtin(identity, Path(checkpoint), device)
    if backend == "encodec":
        match = RANDOM_WEIGHTS.match(str(identity.get("weights", "")))
        if match:
            from valle.codec import random_encodec

            codec: AudioTokenizer = random_encodec(int(match.group(1)), device=device)
        else:
            codec = _encodec_official(f"checkpoint {checkpoint} was trained on EnCodec codes", device)
        codec.check_compatible(identity)
        return codec
    raise CheckpointError(
        f"checkpoint {checkpoint} names an unknown codec backend {backend!r}; pass --codec with the codec it used"
    )


def _encodec_official(why: str, device: str | torch.device) -> AudioTokenizer:
    from valle.codec import load_encodec

    try:
        return load_encodec(None, device=device, download=False)
    except MissingFileError as e:
        raise MissingFileError(f"{why}: {e}; or pass --codec encodec:PATH") from None


SHIPPED_CODEC = Path(__file__).resolve().parents[1] / "assets" / "synth-codec.pt"


def builtin_candidates(identity: dict[str, Any], checkpoint: Path) -> list[Path]:
    """Files that may hold the built-in codec of `identity`, in search order (duplicates removed)."""
    from valle.codec import default_builtin_path

    paths: list[Path] = []
    if identity.get("path"):
        paths.append(Path(str(identity["path"])))
    paths += [checkpoint.parent / "codec.pt", checkpoint.parent.parent / "codec.pt"]
    env = os.environ.get("VALLE_CODEC", "")
    if env.startswith("builtin:") or (env and not env.startswith("encodec")):
        paths.append(Path(env.removeprefix("builtin:")))
    paths.append(default_builtin_path())
    paths.append(SHIPPED_CODEC)  # the codec of the shipped checkpoint (used only when its hash matches)
    unique: list[Path] = []
    for p in paths:
        if all(p.resolve() != u.resolve() for u in unique):
            unique.append(p)
    return unique


def _find_builtin(identity: dict[str, Any], checkpoint: Path, device: str | torch.device) -> AudioTokenizer:
    from valle.codec import BuiltinCodec

    wanted = identity.get("content_hash")
    tried = []
    for path in builtin_candidates(identity, checkpoint):
        if not path.is_file():
            continue
        try:
            codec = BuiltinCodec.load(path, device=device)
        except ValleError as e:
            logger.debug("skipping %s: %s", path, e)
            continue
        tried.append(str(path))
        if codec.identity.get("content_hash") == wanted:
            logger.info("codec: %s", path)
            return codec
    where = f"tried {', '.join(tried)}" if tried else "found no codec file next to the checkpoint or in the cache"
    raise CheckpointError(
        f"checkpoint {checkpoint} needs the built-in codec with hash {str(wanted)[:12]} ({where}); "
        "pass --codec PATH with the codec file the model was trained with"
    )
