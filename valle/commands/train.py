"""`valle train`: lifeiteng/vall-e's `bin/trainer.py` flags (same names, defaults and spellings), plus budgets.

Boolean flags take a value as the reference's `str2bool` does (`--norm-first true`, `--tensorboard 0`), and
the numeric spellings stay (`--train-stage 1`, `--prefix-mode 4`), so the reference's README commands run
unchanged.  Added: `--num-threads`, `--max-steps`, `--max-minutes`, `--device`, `--log-interval`, `--resume`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from valle.train.config import TrainConfig

NAME = "train"
HELP = "train VALL-E / VALL-F (CPU, one GPU, or DDP via --world-size N or torchrun -m valle.train)"

_TRUE = ("yes", "true", "t", "y", "1")
_FALSE = ("no", "false", "f", "n", "0")


def str2bool(value: str | bool) -> bool:
    """The reference's boolean flag parser: yes/true/t/y/1 and no/false/f/n/0, any case."""
    if isinstance(value, bool):
        return value
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false, yes/no, 1/0), got {value!r}")


def _add_trainer_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("trainer (lifeiteng/vall-e bin/trainer.py)")
    g.add_argument("--world-size", type=int, default=1, help="processes to spawn for DDP (torchrun sets its own)")
    g.add_argument("--master-port", type=int, default=12354, help="rendezvous port of spawned processes")
    g.add_argument("--tensorboard", type=str2bool, default=True, help="write tensorboard scalars")
    g.add_argument("--num-epochs", type=int, default=20, help="train up to and including this epoch")
    g.add_argument("--start-epoch", type=int, default=1, help=">1: resume from exp-dir/epoch-{N-1}.pt")
    g.add_argument("--start-batch", type=int, default=0, help=">0: resume from exp-dir/checkpoint-{N}.pt")
    g.add_argument("--exp-dir", type=Path, default=Path("exp/valle_dev"), help="checkpoints, logs, tensorboard")
    g.add_argument("--optimizer-name", default="ScaledAdam", help="ScaledAdam | AdamW | Adam")
    g.add_argument("--scheduler-name", default="Eden", help="Eden | Noam | Cosine")
    g.add_argument("--base-lr", type=float, default=0.05, help="base learning rate")
    g.add_argument("--warmup-steps", type=int, default=200, help="warmup length in batches")
    g.add_argument("--seed", type=int, default=42, help="seed of weights, dropout, NAR draws and sampler")
    g.add_argument("--inf-check", type=str2bool, default=False, help="log modules/gradients that turn inf/nan")
    g.add_argument("--save-every-n", type=int, default=10000, help="checkpoint-{step}.pt every N batches")
    g.add_argument("--valid-interval", type=int, default=10000, help="validate every N batches (and per epoch)")
    g.add_argument("--keep-last-k", type=int, default=20, help="keep the newest K checkpoint-*.pt")
    g.add_argument("--average-period", type=int, default=0, help=">0: running weight average every N batches")
    g.add_argument("--accumulate-grad-steps", type=int, default=1, help="batches per optimizer step (per process)")
    g.add_argument("--scheduled-sampling", type=float, default=0.0,
                   help="share of the AR's input codes swapped for codes it draws itself from a first pass "
                        "(teaches it to continue from its own mistakes; 0 = the reference)")  # fmt: skip
    g.add_argument("--text-dropout", type=float, default=0.0,
                   help="share of the AR's training rows that see the empty text, so that synthesis can use "
                        "text guidance (the `guidance` option; try 0.1); 0 = the reference")  # fmt: skip
    g.add_argument("--dtype", default="float32", help="float32 | bfloat16 | float16 (bf16/fp16 accepted)")
    g.add_argument("--fp32-attention", type=str2bool, default=False,
                   help="with --dtype bfloat16/float16: keep every attention block in float32 (low precision bent a "
                        "trained checkpoint's attention gradients: bench/precision.py)")  # fmt: skip
    g.add_argument("--filter-min-duration", type=float, default=0.0, help="drop shorter cuts (seconds)")
    g.add_argument("--filter-max-duration", type=float, default=20.0, help="drop longer cuts (seconds)")
    g.add_argument("--train-stage", type=int, default=0, choices=(0, 1, 2), help="0: AR+NAR, 1: AR, 2: NAR")
    g.add_argument("--visualize", type=str2bool, default=False, help="PNG of predictions at each validation")
    g.add_argument("--oom-check", type=str2bool, default=True, help="run the most demanding batches first")


def _add_budget_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("budget, devices and logging (valle additions)")
    g.add_argument("--max-steps", type=int, default=None, help="stop after this many batches in total")
    g.add_argument("--max-minutes", type=float, default=None, help="stop after this many minutes of this run")
    g.add_argument("--num-threads", type=int, default=None, help="torch CPU threads per process")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    g.add_argument("--log-interval", type=int, default=100, help="progress line every N batches")
    g.add_argument("--resume", default=None, help="'latest' (newest checkpoint in --exp-dir, if any) or a path")


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    from valle.models.config import ModelConfig

    d = ModelConfig()
    g = p.add_argument_group("model")
    g.add_argument("--model-name", default=d.model_name, help="VALL-E | VALL-F")
    g.add_argument("--decoder-dim", type=int, default=d.decoder_dim, help="AR width")
    g.add_argument("--nhead", type=int, default=d.nhead, help="attention heads")
    g.add_argument("--num-decoder-layers", type=int, default=d.num_decoder_layers, help="AR layers")
    g.add_argument("--scale-factor", type=float, default=d.scale_factor, help="NAR width/heads/layers multiplier")
    g.add_argument("--norm-first", type=str2bool, default=d.norm_first, help="pre-norm layers")
    g.add_argument("--add-prenet", type=str2bool, default=d.add_prenet, help="text/audio pre-nets")
    g.add_argument("--prefix-mode", "--prefix_mode", type=int, default=int(d.prefix_mode), choices=(0, 1, 2, 4),
                   help="NAR acoustic prompt: 0 none, 1 prefix, 2 random segment, 4 other utterance")
    g.add_argument("--share-embedding", type=str2bool, default=d.share_embedding, help="tie NAR heads to embeddings")
    g.add_argument("--prepend-bos", type=str2bool, default=d.prepend_bos, help="AR audio starts with BOS")
    g.add_argument("--num-quantizers", type=int, default=d.num_quantizers, help="codebooks modelled (1 = AR only)")
    g.add_argument("--attention-dropout", type=float, default=None,
                   help="dropout on attention weights (default: 0.1 like every dropout, as the reference); 0 makes "
                        "CPU training ~1.5x faster (fused attention)")  # fmt: skip


def _add_data_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--manifest-dir", type=Path, default=Path("data/tokenized"), help="cuts_{train,dev}.jsonl.gz")
    g.add_argument("--text-tokens", type=Path, default=None,
                   help="symbol table (default: MANIFEST_DIR/unique_text_tokens.k2symbols)")
    g.add_argument("--max-duration", type=float, default=40.0, help="seconds of audio per batch")
    g.add_argument("--bucketing-sampler", type=str2bool, default=True, help="DynamicBucketingSampler")
    g.add_argument("--num-buckets", type=int, default=10, help="duration buckets")
    g.add_argument("--shuffle", type=str2bool, default=True, help="shuffle every epoch")
    g.add_argument("--drop-last", type=str2bool, default=False, help="drop the last partial batch")
    g.add_argument("--num-workers", type=int, default=2, help="DataLoader workers (0 = in-process)")
    g.add_argument("--dataset", default="libritts", help="prompt neighbours for prefix mode 4: libritts | ljspeech | speaker")
    g.add_argument("--prompt-duration", type=float, default=3.0, help="longest prefix-mode-4 prompt (seconds)")
    g.add_argument("--repeat-train", type=int, default=1,
                   help="passes over the training cuts per epoch (small corpora: fewer epoch-end validations/saves)")
    g.add_argument("--concat-prompt-prob", type=float, default=0.0,
                   help="chance a training utterance is preceded by a short one of its speaker (text and codes), "
                        "the [prompt ; target] layout of inference; 0 = single utterances (the reference)")
    g.add_argument("--input-strategy", default=None,
                   help="accepted for the reference's commands; prompts follow --prefix-mode 4 by themselves")


def add_arguments(p: argparse.ArgumentParser) -> None:
    _add_trainer_flags(p)
    _add_model_flags(p)
    _add_data_flags(p)
    _add_budget_flags(p)


def build_config(args: argparse.Namespace) -> TrainConfig:
    """Map parsed flags onto TrainConfig / ModelConfig / DataConfig (raises InvalidInputError on bad values)."""
    from valle.data.config import DataConfig
    from valle.models.config import ModelConfig
    from valle.train.config import TrainConfig

    model = ModelConfig(
        model_name=args.model_name, decoder_dim=args.decoder_dim, nhead=args.nhead,
        num_decoder_layers=args.num_decoder_layers, scale_factor=args.scale_factor, norm_first=args.norm_first,
        add_prenet=args.add_prenet, prefix_mode=args.prefix_mode, share_embedding=args.share_embedding,
        prepend_bos=args.prepend_bos, num_quantizers=args.num_quantizers, attention_dropout=args.attention_dropout,
    )  # fmt: skip
    data = DataConfig(
        manifest_dir=args.manifest_dir, text_tokens=args.text_tokens, max_duration=args.max_duration,
        num_buckets=args.num_buckets, bucketing_sampler=args.bucketing_sampler, shuffle=args.shuffle,
        drop_last=args.drop_last, seed=args.seed, filter_min_duration=args.filter_min_duration,
        filter_max_duration=args.filter_max_duration, num_workers=args.num_workers, dataset=args.dataset,
        prompt_duration=args.prompt_duration, repeat_train=args.repeat_train,
        concat_prompt_prob=args.concat_prompt_prob,
    )  # fmt: skip
    return TrainConfig(
        model=model, data=data, exp_dir=args.exp_dir, train_stage=args.train_stage, num_epochs=args.num_epochs,
        start_epoch=args.start_epoch, start_batch=args.start_batch, resume=args.resume, max_steps=args.max_steps,
        max_minutes=args.max_minutes, seed=args.seed, optimizer_name=args.optimizer_name,
        scheduler_name=args.scheduler_name, base_lr=args.base_lr, warmup_steps=args.warmup_steps,
        accumulate_grad_steps=args.accumulate_grad_steps, scheduled_sampling=args.scheduled_sampling,
        text_dropout=args.text_dropout, dtype=args.dtype, fp32_attention=args.fp32_attention, save_every_n=args.save_every_n,
        keep_last_k=args.keep_last_k, valid_interval=args.valid_interval, average_period=args.average_period,
        log_interval=args.log_interval, tensorboard=args.tensorboard, inf_check=args.inf_check,
        oom_check=args.oom_check, visualize=args.visualize, device=args.device, num_threads=args.num_threads,
        world_size=args.world_size, master_port=args.master_port,
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from valle.train import launch

    cfg = build_config(args)
    result = launch(cfg)
    if result is not None:
        valid = f", last validation loss {result.valid_losses[-1][1]:.4f}" if result.valid_losses else ""
        print(f"stopped ({result.stopped_by}) at step {result.step}, epoch {result.epoch}{valid}; "
              f"model: {result.model_checkpoint}; training checkpoint: {result.checkpoint}")  # fmt: skip
    return 0
