"""`--inf-check`: hooks that name the first module output or parameter gradient that is not finite.

When a loss turns into inf/nan the question is *where*; these hooks log every module whose forward output
and every parameter whose gradient holds an inf or nan, so the first line of the burst points at the
culprit (icefall's `register_inf_check_hooks` does the same for the reference).  They cost a reduction per
tensor, so they are off by default.
"""

from __future__ import annotations

import logging
from dataclasses import fields, is_dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

logger = logging.getLogger(__name__)


def _tensors(value: Any) -> list[Tensor]:
    """Floating-point tensors inside a module output (tensor, tuple/list, dict or dataclass)."""
    if isinstance(value, Tensor):
        return [value] if value.is_floating_point() else []
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    if is_dataclass(value) and not isinstance(value, type):
        return [t for f in fields(value) for t in _tensors(getattr(value, f.name))]
    return []


def register_inf_check_hooks(model: nn.Module) -> list[RemovableHandle]:
    """Attach the checks to every submodule and parameter of `model`; returns handles to remove them."""
    handles: list[RemovableHandle] = []
    for name, module in model.named_modules():
        label = name or "model"

        def forward_hook(_m: nn.Module, _inputs: Any, output: Any, label: str = label) -> None:
            for i, t in enumerate(_tensors(output)):
                if not torch.isfinite(t.detach()).all():
                    logger.warning("inf-check: output %d of module %s is not finite", i, label)

        handles.append(module.register_forward_hook(forward_hook))
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue

        def grad_hook(grad: Tensor, name: str = name) -> None:
            if not torch.isfinite(grad).all():
                logger.warning("inf-check: gradient of parameter %s is not finite", name)

        handles.append(param.register_hook(grad_hook))
    return handles
