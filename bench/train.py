"""Training throughput: audio frames per second of one trainer step (forward + backward + optimizer).

The step is the one `valle.train` runs: autocast context (fp32 on CPU, bf16 on a GPU unless --precisions says
otherwise: fp32, bf16, and bf16 with the attention blocks in float32 as `--fp32-attention true`), the model's training
forward with `train_stage` 0 (AR + one random NAR stage), backward, gradient-norm check, ScaledAdam step.
The batch is fixed for every configuration - B utterances of T frames (8 codebooks) with S text tokens.
The default B = 2 (x 375 frames, 80 tokens) is a quarter of the reference measurement in shared/NOTES.md
(8 x 375): with the optimizer state the 12 x 1024 model needs ~10 GiB at B = 2 and ran out of the
24 GiB machine at B = 8.  Each configuration runs in its own process, so its peak memory is its own.

    .venv/bin/python bench/train.py                       # default (12 x 1024) and small (6 x 256), 1 and 2 threads
    .venv/bin/python bench/train.py --configs small --batch 8 --steps 5
    python bench/train.py --configs default,small --precisions fp32,bf16,bf16-fp32attn --batch 8   # on a GPU

Prints a Markdown table; "audio frames/s" = B * T / seconds per step (75 frames = 1 s of audio).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

CONFIGS = {  # name -> ModelConfig overrides (everything else: the reference defaults)
    "default": {"decoder_dim": 1024, "nhead": 16, "num_decoder_layers": 12},
    "small": {"decoder_dim": 256, "nhead": 8, "num_decoder_layers": 6},
    # the demo's and the shipped checkpoint's size, with the reference's attention dropout and without it
    "tiny": {"decoder_dim": 128, "nhead": 4, "num_decoder_layers": 4},
    "tiny-no-attn-dropout": {"decoder_dim": 128, "nhead": 4, "num_decoder_layers": 4, "attention_dropout": 0.0},
}
PRECISIONS = ("fp32", "bf16", "bf16-fp32attn")  # bf16-fp32attn: `valle train --dtype bfloat16 --fp32-attention true`


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="default,small", help=f"comma-separated: {', '.join(CONFIGS)}")
    p.add_argument("--threads", default="1,2", help="torch CPU thread counts (CPU only)")
    p.add_argument("--batch", type=int, default=2, help="utterances per batch (B)")
    p.add_argument("--frames", type=int, default=375, help="codec frames per utterance (T; 375 = 5 s)")
    p.add_argument("--text", type=int, default=80, help="text tokens per utterance (S)")
    p.add_argument("--steps", type=int, default=2, help="timed steps (median reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--precisions", default=None,
                   help=f"comma-separated: {', '.join(PRECISIONS)} (default: bf16 on a GPU, fp32 on a CPU)")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: NAME:THREADS:PRECISION in a child process
    return p.parse_args()


def make_batch(args: argparse.Namespace, device: torch.device) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "x": torch.randint(3, 80, (args.batch, args.text), generator=g).to(device),
        "x_lens": torch.full((args.batch,), args.text, dtype=torch.int32).to(device),
        "y": torch.randint(0, 1024, (args.batch, args.frames, 8), generator=g).to(device),
        "y_lens": torch.full((args.batch,), args.frames, dtype=torch.int32).to(device),
    }


def time_steps(name: str, precision: str, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    """Seconds of each timed step, parameter count and peak memory of one configuration (in this process)."""
    from valle.models import ModelConfig, PrefixMode, build_model
    from valle.models.attention import use_float32_attention
    from valle.train import TrainConfig
    from valle.train.setup import build_optimizer

    torch.manual_seed(0)
    model_cfg = ModelConfig(prefix_mode=PrefixMode.START).replace(**CONFIGS[name])
    model = build_model(model_cfg).to(device).train()
    if precision == "bf16-fp32attn":
        use_float32_attention(model)
    params = list(model.parameters())
    optimizer = build_optimizer(TrainConfig(model=model_cfg), params)
    batch = make_batch(args, device)
    generator = torch.Generator().manual_seed(0)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision != "fp32")
    times = []
    for i in range(args.warmup + args.steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with autocast:
            out = model(**batch, train_stage=0, generator=generator)
        out.loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, float("inf"))
        if torch.isfinite(norm):
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB (Linux)
    return {"step": statistics.median(times), "params": sum(p.numel() for p in params) / 1e6, "peak_gib": peak}


def main() -> None:
    args = parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))  # fmt: skip
    if args.one:  # child process: one configuration, so peak memory is its own
        name, threads, precision = args.one.split(":")
        torch.set_num_threads(int(threads))
        print(json.dumps(time_steps(name, precision, args, device)))
        return
    threads = [int(t) for t in args.threads.split(",")] if device.type == "cpu" else [torch.get_num_threads()]
    precisions = args.precisions.split(",") if args.precisions else ["bf16" if device.type == "cuda" else "fp32"]
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad:
        raise SystemExit(f"--precisions: unknown {', '.join(bad)}; choose from {', '.join(PRECISIONS)}")
    print(f"batch {args.batch} x {args.frames} frames x 8 codebooks, {args.text} text tokens, train_stage 0, "
          f"ScaledAdam on {device}; median of {args.steps} step(s) after {args.warmup} warmup")  # fmt: skip
    print()
    print("| config | params | precision | threads | s/step | audio frames/s | x real time | peak memory |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.configs.split(","):
        for precision in precisions:
            for t in threads:
                child = [sys.executable, __file__, "--one", f"{name}:{t}:{precision}", *sys.argv[1:]]
                out = subprocess.run(child, capture_output=True, text=True, check=False)
                if out.returncode != 0:
                    err = out.stderr.strip().splitlines()[-1:]
                    print(f"| {name} | - | {precision} | {t} | failed: {err} | | | |", flush=True)
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                fps = args.batch * args.frames / r["step"]
                c = CONFIGS[name]
                print(f"| {name} ({c['num_decoder_layers']} x {c['decoder_dim']}) | {r['params']:.1f} M | {precision} | "
                      f"{t} | {r['step']:.2f} | {fps:.0f} | {fps / 75:.2f} | {r['peak_gib']:.1f} GiB |",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
