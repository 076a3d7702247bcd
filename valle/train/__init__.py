"""valle.train: the training loop (CPU, one GPU, or DDP), ScaledAdam, learning-rate schedules, checkpoints.

    from valle.train import TrainConfig, train
    result = train(TrainConfig(model=debug_config(), data=DataConfig(manifest_dir=...), max_steps=100))

`python -m valle.train` (and so `torchrun --nproc-per-node N -m valle.train`) takes `valle train`'s flags.
"""

from valle.train.config import DType, OptimizerName, TrainConfig
from valle.train.launch import launch
from valle.train.optim import ScaledAdam
from valle.train.schedule import (
    LrSchedule,
    SchedulerName,
    cosine_factor,
    eden_factor,
    noam_factor,
)
from valle.train.trainer import TrainResult, train

__all__ = [
    "DType",
    "LrSchedule",
    "OptimizerName",
    "ScaledAdam",
    "SchedulerName",
    "TrainConfig",
    "TrainResult",
    "cosine_factor",
    "eden_factor",
    "launch",
    "noam_factor",
    "train",
]
