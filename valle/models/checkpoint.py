"""Model checkpoints: our self-contained inference format, and lifeiteng/vall-e's trainer checkpoints.

Our format (`save_checkpoint`) is one `torch.save`d dict of plain data:

    format          "valle-checkpoint"
    format_version  1
    model_config    ModelConfig.to_dict()   (the reference's hyper-parameter names)
    symbols         list[str] | None        text symbol table (index = text id)
    tokenizer       dict | None             text front-end settings (opaque here)
    codec           dict | None             codec identity (opaque here)
    extra           dict | None             any other small plain data
    state_dict      the weights (tied tensors stored once)

Training state (optimizer, scheduler, sampler) is *not* part of it: the trainer keeps it in its own file,
so the file a user downloads for inference is just the weights and what is needed to use them.

A lifeiteng/vall-e checkpoint (what `valle/bin/trainer.py` writes, and Plachtaa/VALL-E-X-style dicts with a
`model` state dict) holds `model` plus every training flag as a top-level key; its parameter names are ours,
so it loads with no key mapping.  Both formats are read with `torch.load(weights_only=True)`: only tensors
and plain data are unpickled, plus `pathlib` path objects (the reference stores `exp_dir` and
`manifest_dir` as `PosixPath`).  A file that pickles anything else is refused, never executed.
"""

from __future__ import annotations

import logging
import os
import pathlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from valle.errors import CheckpointError, InvalidInputError, require_file
from valle.models.config import ModelConfig
from valle.models.valle import VALLE
from valle.utils import atomic_write

logger = logging.getLogger(__name__)

FORMAT = "valle-checkpoint"
TRAIN_FORMAT = "valle-train-checkpoint"  # valle.train.checkpoint.FORMAT (that package imports this one)
FORMAT_VERSION = 1
# Harmless classes a reference checkpoint may pickle; paths only store strings.
SAFE_GLOBALS: list[Any] = [pathlib.PosixPath, pathlib.PurePosixPath, pathlib.PureWindowsPath]
REFERENCE_REQUIRED = ("decoder_dim", "nhead", "num_decoder_layers")
# Top-level keys of a reference checkpoint that are weights or training state, not flags.
REFERENCE_TRAINING_STATE = ("model", "model_avg", "optimizer", "scheduler", "grad_scaler", "sampler")


@dataclass
class CheckpointMeta:
    """What a checkpoint carries besides weights; attached to loaded models as `model.meta`."""

    source: str  # "valle" (our format) or "lifeiteng" (reference trainer format)
    path: str  # the file it was read from
    format_version: int | None = None  # our format's version; None for reference files
    symbols: list[str] | None = None  # text symbol table, index = id
    tokenizer: dict[str, Any] | None = None  # text front-end settings
    codec: dict[str, Any] | None = None  # codec identity
    extra: dict[str, Any] = field(default_factory=dict)  # our `extra`, or the reference's other top-level keys


def build_model(config: ModelConfig) -> VALLE:
    """A freshly initialised VALL-E / VALL-F model for `config` (the one place a config becomes a model)."""
    return VALLE(config)


# ---------------------------------------------------------------------------------------------- reading
def read_checkpoint_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Unpickle a checkpoint safely (`weights_only=True` + path allow-list) onto the CPU.

    Raises:
        MissingFileError: no such file.  CheckpointError: unreadable, or pickles non-data objects.
    """
    p = require_file(path, "checkpoint", "check the path")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for bad files
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(p)
        except Exception:  # noqa: BLE001 - only used to word the error; the original error is re-raised
            unsafe = []
        if unsafe:
            raise CheckpointError(
                f"checkpoint {p} pickles Python objects that are not weights or plain data "
                f"({', '.join(unsafe[:5])}); refusing to unpickle them - re-save it with only the state dict "
                "and hyper-parameters"
            ) from e
        raise CheckpointError(
            f"cannot read checkpoint {p} ({str(e).splitlines()[0] if str(e) else type(e).__name__}); give a file "
            "written by torch.save: valle train, valle export-model or lifeiteng/vall-e's trainer"
        ) from e
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {p} holds a {type(obj).__name__}, expected a dict")
    return obj


def _plain(value: Any) -> Any:
    """Reference hyper-parameters as plain data (paths -> str) for `CheckpointMeta.extra`."""
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _reference_config(ckpt: dict[str, Any], state: dict[str, torch.Tensor], path: Path) -> ModelConfig:
    """ModelConfig from a reference checkpoint's top-level flags, sizes checked against the weights."""
    missing = [k for k in REFERENCE_REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(
            f"checkpoint {path} lacks the model flags {missing}; it is not a lifeiteng/vall-e checkpoint"
        )
    name = str(ckpt.get("model_name", "VALL-E"))
    if name.lower() not in ("vall-e", "valle", "vall-f", "vallf"):
        raise CheckpointError(f"checkpoint {path} holds a {name!r} model; only VALL-E and VALL-F are supported")
    values = dict(ckpt)
    # Sizes the reference hard-codes (or older versions did not store) are read off the weights.
    try:
        values["num_text_tokens"] = state["ar_text_embedding.word_embeddings.weight"].shape[0]
        values["num_audio_tokens"] = state["ar_predict_layer.weight"].shape[0] - 1
        audio_rows = state["ar_audio_embedding.word_embeddings.weight"].shape[0]
    except KeyError as e:
        raise CheckpointError(
            f"checkpoint {path} has no weight {e.args[0]!r}; it is not a VALL-E/VALL-F checkpoint"
        ) from None
    values.setdefault("prepend_bos", audio_rows == values["num_audio_tokens"] + 2)
    n_nar = sum(1 for k in state if k.startswith("nar_audio_embeddings.") and k.endswith(".word_embeddings.weight"))
    values.setdefault("num_quantizers", max(1, n_nar))
    try:
        return ModelConfig.from_dict(values)
    except InvalidInputError as e:
        raise CheckpointError(f"checkpoint {path} has unusable model flags: {e}") from None


def _load_weights(model: VALLE, state: dict[str, torch.Tensor], path: Path) -> None:
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"checkpoint {path} does not match its model config: missing {result.missing_keys[:4]}, "
            f"unexpected {result.unexpected_keys[:4]}"
        )


def load_checkpoint(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> VALLE:
    """Load a model from our format or a lifeiteng/vall-e trainer checkpoint, in eval mode.

    Returns:
        the model, with a `CheckpointMeta` as `model.meta` (symbols, tokenizer, codec, extra).

    Raises:
        MissingFileError, CheckpointError.
    """
    p = Path(path)
    ckpt = read_checkpoint_dict(p)
    if ckpt.get("format") == FORMAT:
        version = int(ckpt.get("format_version", 0))
        if version > FORMAT_VERSION:
            raise CheckpointError(
                f"checkpoint {p} has format version {version}; this valle reads <= {FORMAT_VERSION}, upgrade valle"
            )
        try:
            config = ModelConfig.from_dict(ckpt["model_config"])
        except (KeyError, TypeError, InvalidInputError) as e:
            raise CheckpointError(f"checkpoint {p} has an unusable model_config: {e}") from None
        state = ckpt.get("state_dict")
        meta = CheckpointMeta(
            source="valle", path=str(p), format_version=version, symbols=ckpt.get("symbols"),
            tokenizer=ckpt.get("tokenizer"), codec=ckpt.get("codec"), extra=ckpt.get("extra") or {},
        )  # fmt: skip
    elif isinstance(ckpt.get("model"), dict):
        state = ckpt["model"]
        config = _reference_config(ckpt, state, p)
        flags = {k: _plain(v) for k, v in ckpt.items() if k not in REFERENCE_TRAINING_STATE}
        # valle's own training checkpoints use this layout too, and also carry what synthesis needs
        ours = ckpt.get("format") == TRAIN_FORMAT
        meta = CheckpointMeta(
            source="valle-train" if ours else "lifeiteng", path=str(p), extra=flags,
            symbols=ckpt.get("symbols") if ours and isinstance(ckpt.get("symbols"), list) else None,
            tokenizer=ckpt.get("tokenizer") if ours and isinstance(ckpt.get("tokenizer"), dict) else None,
            codec=ckpt.get("codec") if ours and isinstance(ckpt.get("codec"), dict) else None,
        )  # fmt: skip
    else:
        raise CheckpointError(
            f"checkpoint {p} is neither a valle checkpoint nor a lifeiteng/vall-e one (no 'model' state dict)"
        )
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {p} has no state dict")
    model = build_model(config)
    _load_weights(model, state, p)
    model.meta = meta
    return model.to(device).eval()


# ---------------------------------------------------------------------------------------------- writing
def _check_plain(value: Any, where: str) -> None:
    """Raise if `value` is not plain data that `weights_only=True` can read back."""
    if value is None or isinstance(value, (str, bool, int, float, torch.Tensor)):
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise InvalidInputError(f"{where} has a key of type {type(k).__name__}; use str keys")
            _check_plain(v, f"{where}[{k!r}]")
        return
    raise InvalidInputError(
        f"{where} is a {type(value).__name__}; "
        "checkpoints store only plain data (str, numbers, lists, dicts, tensors)"
    )


def _cast_floats(state: dict[str, torch.Tensor], dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    """Floating-point tensors cast to `dtype`; tied tensors stay one tensor, so torch.save stores them once."""
    if dtype is None:
        return state
    cast: dict[tuple[int, torch.Size], torch.Tensor] = {}
    out = {}
    for k, v in state.items():
        if v.is_floating_point():
            key = (v.data_ptr(), v.shape)
            if key not in cast:
                cast[key] = v.to(dtype)
            v = cast[key]
        out[k] = v
    return out


def save_checkpoint(
    path: str | os.PathLike[str],
    model: VALLE,
    *,
    symbols: list[str] | None = None,
    tokenizer: dict[str, Any] | None = None,
    codec: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    weights_dtype: torch.dtype | None = None,
) -> Path:
    """Write an inference checkpoint atomically (a crash never leaves a truncated file under `path`).

    Args:
        path: destination file.
        model: the (unwrapped, uncompiled) model.
        symbols: text symbol table; tokenizer: text front-end settings; codec: codec identity;
        extra: other small plain data.  All must be plain data (checked).
        weights_dtype: store floating-point weights in this dtype (float16 halves a shipped file); loading
            casts them back to the model's float32 parameters.

    Returns:
        the path written.
    """
    for name, value in (("symbols", symbols), ("tokenizer", tokenizer), ("codec", codec), ("extra", extra)):
        _check_plain(value, name)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": model.config.to_dict(),
        "symbols": list(symbols) if symbols is not None else None,
        "tokenizer": tokenizer,
        "codec": codec,
        "extra": extra,
        "state_dict": _cast_floats(model.state_dict(), weights_dtype),
    }
    target = Path(path)
    with atomic_write(target) as tmp:
        torch.save(payload, tmp)
    return target
