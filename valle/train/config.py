"""`TrainConfig`: every trainer setting, named as lifeiteng/vall-e's `bin/trainer.py` flags.

Model hyper-parameters stay in `ModelConfig` and data settings in `DataConfig`; `TrainConfig` holds both,
so `train(cfg)` receives one object, while each concern keeps its own dataclass and its own checks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from valle.data.config import DataConfig
from valle.errors import InvalidInputError
from valle.models.config import ModelConfig, TrainStage
from valle.train.schedule import SchedulerName


class OptimizerName(str, enum.Enum):
    """The `--optimizer-name` choices (ScaledAdam is the reference's default and uses its own clipping)."""

    SCALED_ADAM = "ScaledAdam"
    ADAMW = "AdamW"
    ADAM = "Adam"

    @classmethod
    def parse(cls, name: str) -> OptimizerName:
        for member in cls:
            if member.value.lower() == str(name).lower():
                return member
        hint = " (the reference's Eve is not provided)" if str(name).lower() == "eve" else ""
        raise InvalidInputError(f"--optimizer-name must be one of ScaledAdam, AdamW, Adam, got {name!r}{hint}")


class DType(str, enum.Enum):
    """Autocast precision of the forward pass (weights and optimizer state stay float32)."""

    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"
    FLOAT16 = "float16"

    @classmethod
    def parse(cls, name: str) -> DType:
        aliases = {"float32": cls.FLOAT32, "fp32": cls.FLOAT32, "bfloat16": cls.BFLOAT16, "bf16": cls.BFLOAT16,
                   "float16": cls.FLOAT16, "fp16": cls.FLOAT16}  # fmt: skip
        try:
            return aliases[str(name).lower()]
        except KeyError:
            raise InvalidInputError(f"--dtype must be float32, bfloat16 or float16 (or fp32/bf16/fp16), got {name!r}") from None


@dataclass
class TrainConfig:
    """How to train: loop, optimisation, checkpoints, logging, devices; plus the model and data configs."""

    model: ModelConfig = field(default_factory=ModelConfig)  # network hyper-parameters (--decoder-dim, ...)
    data: DataConfig = field(default_factory=DataConfig)  # manifests, sampler, loader (--max-duration, ...)
    exp_dir: Path = Path("exp/valle_dev")  # checkpoints, logs and tensorboard go here
    train_stage: TrainStage = TrainStage.BOTH  # BOTH (0), AR (1) or NAR (2): which half is optimised
    num_epochs: int = 20  # train up to and including this epoch
    start_epoch: int = 1  # > 1: resume from exp_dir/epoch-{start_epoch - 1}.pt
    start_batch: int = 0  # > 0: resume from exp_dir/checkpoint-{start_batch}.pt (wins over start_epoch)
    resume: str | None = None  # "latest" or a checkpoint path; None = --start-epoch/--start-batch decide
    max_steps: int | None = None  # stop once this many batches were trained in total (the step counter of
    # --save-every-n and checkpoint-{step}.pt, the reference's batch_idx_train; None = no limit)
    max_minutes: float | None = None  # stop after this much training wall time in this run (None = no limit)
    seed: int = 42  # seeds model init, dropout, NAR stage draws and the sampler
    optimizer_name: OptimizerName = OptimizerName.SCALED_ADAM
    scheduler_name: SchedulerName = SchedulerName.EDEN
    base_lr: float = 0.05  # peak learning rate (ScaledAdam's scale; use ~1e-4..1e-3 for Adam/AdamW)
    warmup_steps: int = 200  # warmup length in optimizer steps (meaning depends on the schedule)
    accumulate_grad_steps: int = 1  # batches per optimizer step, per process (the reference's meaning)
    scheduled_sampling: float = 0.0  # share of AR input codes swapped for the model's own draws (0 = reference)
    text_dropout: float = 0.0  # share of AR rows trained on the empty text, for text guidance (0 = reference)
    dtype: DType = DType.FLOAT32  # autocast precision; float16 adds a GradScaler
    fp32_attention: bool = False  # under bf16/fp16 autocast, attention blocks still run in float32
    save_every_n: int = 10000  # write exp_dir/checkpoint-{step}.pt every this many batches
    keep_last_k: int = 20  # keep only this many checkpoint-*.pt files (epoch-*.pt are kept)
    valid_interval: int = 10000  # validate every this many batches (and at the end of every epoch)
    average_period: int = 0  # > 0: keep a running average of the weights, updated every this many batches
    log_interval: int = 100  # progress line and tensorboard scalars every this many batches
    tensorboard: bool = True  # write tensorboard scalars to exp_dir/tensorboard[_stageN]
    inf_check: bool = False  # hooks that log the first module / gradient producing inf or nan
    oom_check: bool = True  # run the most memory-hungry batches of the epoch first, to fail fast
    visualize: bool = False  # at each validation, save a PNG of target vs predicted codes
    device: str = "auto"  # "auto" (cuda:LOCAL_RANK when CUDA is present, else cpu), "cpu", "cuda", "cuda:1"
    num_threads: int | None = None  # torch intra-op threads per process (None = torch's default)
    world_size: int = 1  # > 1 without torchrun: spawn this many local processes
    master_port: int = 12354  # rendezvous port for spawned processes

    def __post_init__(self) -> None:
        self.exp_dir = Path(self.exp_dir)
        self.train_stage = TrainStage(int(self.train_stage))
        if not isinstance(self.optimizer_name, OptimizerName):
            self.optimizer_name = OptimizerName.parse(self.optimizer_name)
        if not isinstance(self.scheduler_name, SchedulerName):
            self.scheduler_name = SchedulerName.parse(self.scheduler_name)
        if not isinstance(self.dtype, DType):
            self.dtype = DType.parse(self.dtype)
        self.validate()

    def validate(self) -> None:
        """Raise `InvalidInputError` (one sentence) for impossible settings."""
        if not 0.0 <= self.scheduled_sampling <= 1.0:
            raise InvalidInputError(f"--scheduled-sampling must be in [0, 1], got {self.scheduled_sampling}")
        if not 0.0 <= self.text_dropout < 1.0:
            raise InvalidInputError(f"--text-dropout must be in [0, 1), got {self.text_dropout}")
        positive = {"--num-epochs": self.num_epochs, "--start-epoch": self.start_epoch,
                    "--accumulate-grad-steps": self.accumulate_grad_steps, "--save-every-n": self.save_every_n,
                    "--valid-interval": self.valid_interval, "--log-interval": self.log_interval,
                    "--keep-last-k": self.keep_last_k, "--world-size": self.world_size}  # fmt: skip
        for flag, value in positive.items():
            if value < 1:
                raise InvalidInputError(f"{flag} must be >= 1, got {value}")
        for flag, value in {"--start-batch": self.start_batch, "--average-period": self.average_period,
                            "--warmup-steps": self.warmup_steps}.items():  # fmt: skip
            if value < 0:
                raise InvalidInputError(f"{flag} must be >= 0, got {value}")
        if self.start_epoch > self.num_epochs:
            raise InvalidInputError(f"--start-epoch {self.start_epoch} is after --num-epochs {self.num_epochs}; nothing to train")
        if self.base_lr <= 0:
            raise InvalidInputError(f"--base-lr must be > 0, got {self.base_lr}")
        if self.max_steps is not None and self.max_steps < 1:
            raise InvalidInputError(f"--max-steps must be >= 1, got {self.max_steps}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise InvalidInputError(f"--max-minutes must be > 0, got {self.max_minutes}")
        if self.average_period and self.save_every_n < self.average_period:
            raise InvalidInputError(
                f"--save-every-n ({self.save_every_n}) must be >= --average-period ({self.average_period})"
            )
        if self.save_every_n % self.accumulate_grad_steps:
            raise InvalidInputError(
                f"--save-every-n ({self.save_every_n}) must be a multiple of --accumulate-grad-steps "
                f"({self.accumulate_grad_steps}), so checkpoints fall between optimizer updates"
            )
        if self.train_stage == TrainStage.NAR and self.model.num_quantizers < 2:
            raise InvalidInputError("--train-stage 2 trains the NAR, which --num-quantizers 1 does not have; use 0 or 1")
        if self.num_threads is not None and self.num_threads < 1:
            raise InvalidInputError(f"--num-threads must be >= 1, got {self.num_threads}")
