"""How far do bf16 / fp16 autocast gradients stray from float32 on a checkpoint's own data?

Why: on a GPU, fine-tuning the shipped checkpoint's AR under `--dtype bfloat16` diverged (the loss rose from
step ~200, the gradient norm grew 100x) while the same run in float32, on the very same batches, trained
stably (docs/train.md, "bf16 and a trained checkpoint").  This script shows where on a CPU, with no GPU: it
runs the training forward and backward of the same batches twice, in float32 and under autocast, and compares
the gradients parameter by parameter (cosine similarity and norm ratio).  A trained VALL-E's sharp attention
layers are where low precision hurts; `--fp32-attention` repeats the low-precision pass with every attention
block in float32 (what `valle train --fp32-attention true` does), to see whether that repairs them.

    .venv/bin/python bench/precision.py --checkpoint valle/assets/valle-synth-small.pt \\
        --manifest-dir data/tokenized --batches 4 --fp32-attention

Prints Markdown tables: one row per batch, then the parameters whose gradients stray most.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a valle checkpoint (training or exported)")
    p.add_argument("--manifest-dir", required=True, help="tokenized corpus whose cuts_dev.jsonl.gz gives the batches")
    p.add_argument("--train-stage", type=int, default=1, choices=(1, 2), help="1: AR, 2: NAR (one random stage)")
    p.add_argument("--dtype", default="bfloat16", choices=sorted(DTYPES), help="the autocast precision to check")
    p.add_argument("--batches", type=int, default=4, help="batches to compare")
    p.add_argument("--max-duration", type=float, default=60.0, help="seconds of audio per batch")
    p.add_argument("--worst", type=int, default=10, help="parameters listed, those with the lowest mean cosine")
    p.add_argument("--fp32-attention", action="store_true", help="also: autocast with attention in float32")
    p.add_argument("--num-threads", type=int, default=2)
    return p.parse_args(argv)


@contextlib.contextmanager
def attention_in_float32(model: torch.nn.Module) -> Iterator[None]:
    """Every attention block (projections, dot products, output projection) in float32: `--fp32-attention`."""
    from valle.models.attention import use_float32_attention

    use_float32_attention(model, True)
    try:
        yield
    finally:
        use_float32_attention(model, False)


def gradients(model: torch.nn.Module, batch: dict[str, Any], train_stage: int,
              dtype: torch.dtype | None) -> tuple[float, dict[str, torch.Tensor]]:  # fmt: skip
    """Loss and parameter gradients of one training forward/backward (autocast to `dtype`; None = float32)."""
    from valle.train.trainer import model_inputs

    model.zero_grad(set_to_none=True)
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(0)  # the same NAR stage in both passes
    with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        out = model(**model_inputs(batch, device, train_stage), generator=generator)
    out.loss.backward()
    grads = {n: p.grad.detach().float().clone() for n, p in model.named_parameters() if p.grad is not None}
    return float(out.loss.detach()), grads


def compare(ref: dict[str, torch.Tensor], low: dict[str, torch.Tensor]) -> tuple[float, float, dict[str, tuple[float, float]]]:
    """Whole-gradient cosine and norm ratio, and (cosine, norm ratio) of every parameter, `low` against `ref`."""
    names = [n for n in ref if n in low]
    a = torch.cat([ref[n].flatten() for n in names])
    b = torch.cat([low[n].flatten() for n in names])
    per = {}
    for n in names:
        denom = ref[n].norm()
        per[n] = (float(F.cosine_similarity(ref[n].flatten(), low[n].flatten(), dim=0)),
                  float(low[n].norm() / denom) if denom > 0 else float("nan"))  # fmt: skip
    return float(F.cosine_similarity(a, b, dim=0)), float(b.norm() / a.norm()), per


def quiet_model(model: torch.nn.Module) -> torch.nn.Module:
    """Training mode (the forward that training runs) with every dropout off, so both passes are deterministic."""
    from valle.models.attention import MultiHeadAttention

    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        if isinstance(m, MultiHeadAttention):
            m.dropout = 0.0
    return model


def load_batches(model: torch.nn.Module, manifest_dir: Path, max_duration: float) -> Iterator[dict[str, Any]]:
    """Validation batches of the corpus, whose symbol table must be the loaded checkpoint's (`model.meta`)."""
    from valle.data.config import DataConfig
    from valle.errors import InvalidInputError
    from valle.models import PrefixMode
    from valle.text import SymbolTable, TextTokenCollater
    from valle.train.data import build_valid_loader

    cfg = DataConfig(manifest_dir=manifest_dir, max_duration=max_duration, num_workers=0)
    collater = TextTokenCollater.from_symbol_table(cfg.text_tokens)
    symbols = model.meta.symbols
    if symbols is not None and sorted(symbols) != sorted(SymbolTable.from_file(cfg.text_tokens).symbols):
        raise InvalidInputError(f"{model.meta.path} and {cfg.text_tokens} have different symbol tables; "
                                "use the corpus the checkpoint was trained on")  # fmt: skip
    prompts = model.config.prefix_mode == PrefixMode.OTHER
    loader = build_valid_loader(cfg, collater, prompts, seed=0)
    if loader is None:
        raise InvalidInputError(f"no dev cuts in {manifest_dir}; it needs cuts_dev.jsonl.gz")
    return iter(loader)


def run(args: argparse.Namespace) -> None:
    from valle.models.checkpoint import load_checkpoint

    torch.set_num_threads(args.num_threads)
    model = quiet_model(load_checkpoint(args.checkpoint))
    batches = load_batches(model, Path(args.manifest_dir), args.max_duration)
    dtype = DTYPES[args.dtype]
    passes: dict[str, Callable[[], contextlib.AbstractContextManager[Any]]] = {args.dtype: contextlib.nullcontext}
    if args.fp32_attention:
        passes[f"{args.dtype} + fp32 attention"] = lambda: attention_in_float32(model)
    per_param: dict[str, dict[str, list[tuple[float, float]]]] = {name: {} for name in passes}
    print(f"{args.checkpoint}: train stage {args.train_stage}, dev batches of {args.max_duration:g} s, "
          f"gradients under autocast against float32 ({next(model.parameters()).device})")  # fmt: skip
    print()
    print("| batch | pass | loss float32 | loss low precision | gradient cosine | norm ratio |")
    print("|---|---|---|---|---|---|")
    for i in range(args.batches):
        batch = next(batches, None)
        if batch is None:
            break
        ref_loss, ref = gradients(model, batch, args.train_stage, None)
        for name, ctx in passes.items():
            with ctx():
                loss, low = gradients(model, batch, args.train_stage, dtype)
            cos, ratio, per = compare(ref, low)
            for n, v in per.items():
                per_param[name].setdefault(n, []).append(v)
            print(f"| {i} | {name} | {ref_loss:.4f} | {loss:.4f} | {cos:.4f} | {ratio:.3f} |", flush=True)
    for name, table in per_param.items():
        print()
        print(f"Parameters whose gradients stray most ({name}; mean over batches):")
        print()
        print("| parameter | cosine | norm ratio |")
        print("|---|---|---|")
        means = {n: (sum(c for c, _ in v) / len(v), sum(r for _, r in v) / len(v)) for n, v in table.items()}
        for n, (c, r) in sorted(means.items(), key=lambda kv: kv[1][0])[: args.worst]:
            print(f"| {n} | {c:.4f} | {r:.3f} |")


def main(argv: list[str] | None = None) -> int:
    from valle.errors import ValleError

    args = parse_args(argv)
    try:
        run(args)
    except (ValleError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
