"""valle.models: the VALL-E / VALL-F networks, their losses, decoding and checkpoints.

    from valle.models import load_checkpoint
    model = load_checkpoint("epoch-1.pt")               # lifeiteng/vall-e or valle format
    logits = model.ar_logits(x, x_lens, y, y_lens)      # [B, T, 1025]
    codes = model.generate(x, x_lens, prompt, top_k=1)  # [1, N, 8]
"""

from valle.models.checkpoint import (
    CheckpointMeta,
    build_model,
    load_checkpoint,
    read_checkpoint_dict,
    save_checkpoint,
)
from valle.models.config import ModelConfig, PrefixMode, TrainStage, debug_config
from valle.models.generate import generate, sample_top_k_top_p
from valle.models.kv_cache import KVCache
from valle.models.losses import LossOutput, compute_losses
from valle.models.valle import VALLE

__all__ = [
    "VALLE",
    "CheckpointMeta",
    "KVCache",
    "LossOutput",
    "ModelConfig",
    "PrefixMode",
    "TrainStage",
    "build_model",
    "compute_losses",
    "debug_config",
    "generate",
    "load_checkpoint",
    "read_checkpoint_dict",
    "sample_top_k_top_p",
    "save_checkpoint",
]
