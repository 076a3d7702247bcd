"""Data settings shared by tokenizing, the sampler and the dataset (flag names follow lifeiteng/vall-e)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from valle.errors import InvalidInputError

CODES_FIELD = "codes"  # cut.custom key of the int16 [T, Q] codec codes
TEXT_TOKENS_KEY = "tokens"  # supervision.custom["tokens"]["text"] = phoneme list (the reference's place)


@dataclass
class DataConfig:
    """How training batches are drawn from `cuts_{train,dev}.jsonl.gz`."""

    manifest_dir: Path = Path("data/tokenized")  # folder holding cuts_*.jsonl.gz and the symbol table
    text_tokens: Path | None = None  # symbol table; None = <manifest_dir>/unique_text_tokens.k2symbols
    max_duration: float = 40.0  # seconds of audio per batch (before padding)
    num_buckets: int = 10  # duration buckets of DynamicBucketingSampler (really used, unlike the reference)
    bucketing_sampler: bool = True  # False = SimpleCutSampler (no bucketing)
    shuffle: bool = True  # reshuffle every epoch (seeded)
    drop_last: bool = False  # drop the last, partial batch
    seed: int = 0  # sampler seed; the epoch is added so every epoch differs but is reproducible
    filter_min_duration: float = 0.0  # drop cuts shorter than this (seconds)
    filter_max_duration: float = 20.0  # drop cuts longer than this (seconds)
    num_workers: int = 2  # DataLoader worker processes (0 = load in the training process)
    dataset: str = "libritts"  # how prompt neighbours are found for prefix mode 4: libritts | ljspeech | speaker
    prompt_duration: float = 3.0  # longest acoustic prompt (seconds) for prefix mode 4
    repeat_train: int = 1  # passes over cuts_train per epoch: a tiny corpus on a fast GPU would otherwise
    # spend more time validating and checkpointing at every epoch end than training
    concat_prompt_prob: float = 0.0  # chance that a training utterance is preceded (text and codes) by an
    # utterance of its speaker no longer than `prompt_duration`: the [prompt ; target] layout of inference
    # (valle.data.concat).  0 = the reference (single utterances).  Validation always uses single utterances.

    def __post_init__(self) -> None:
        self.manifest_dir = Path(self.manifest_dir)
        if self.text_tokens is None:
            self.text_tokens = self.manifest_dir / "unique_text_tokens.k2symbols"
        self.text_tokens = Path(self.text_tokens)
        if self.max_duration <= 0:
            raise InvalidInputError(f"--max-duration must be > 0 seconds, got {self.max_duration}")
        if self.repeat_train < 1:
            raise InvalidInputError(f"--repeat-train must be >= 1 passes per epoch, got {self.repeat_train}")
        if not 0.0 <= self.concat_prompt_prob <= 1.0:
            raise InvalidInputError(f"--concat-prompt-prob must be in [0, 1], got {self.concat_prompt_prob}")
        if self.num_buckets < 1:
            raise InvalidInputError(f"--num-buckets must be >= 1, got {self.num_buckets}")
        if self.filter_min_duration > self.filter_max_duration:
            raise InvalidInputError(
                f"--filter-min-duration ({self.filter_min_duration}) is above --filter-max-duration "
                f"({self.filter_max_duration})"
            )
