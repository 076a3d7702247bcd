"""Inference benchmark: AR ms/frame with and without the KV cache, batch 1 vs 8, NAR time, wall time and
real-time factor, and the weight-streaming limit of this machine, all measured in one run.

Random weights; the output length is forced (EOS suppressed until the cap), so every run decodes exactly
the frames asked for.  Shapes follow the issue: a 3 s prompt (225 frames), 60 text tokens, 2 s of output
(150 frames).  Sizes: "default" (12 x 1024, the reference's default, 367 M parameters) and "small" (6 x 256).

What each number is:
* stream limit: one matrix-vector pass over every weight matrix a decoding step multiplies (the AR stack
  and its output layer): the least memory traffic a batch-1 step can cause.  It runs between the cached
  batch-1 steps, so both see the same machine load; the table gives its median (and its minimum).
* AR cached: the real decoding loop (`valle.models.generate._decode_ar`), timed between consecutive
  sampler calls; median over `--steps` steps after the prompt is pre-filled, pooled over `--rounds`
  rounds that alternate batch 1 and batch 8 (8 different texts/prompts of the same sizes).
* AR uncached: the reference's method (the whole sequence re-run every step).  Its cost grows with the
  sequence, so it is measured at the start (225 prompt frames) and at the end (372 = 225 + 147) of a
  150-frame output, `--uncached-steps` steps each, and averaged.
* NAR: the 7 NAR stages over prompt + 150 frames (batch 1).
* wall: `generate` end to end for 150 frames at batch 1 (prefill + 150 cached steps + NAR) plus
  decoding the codes with EnCodec (random weights, same compute); RTF = wall / 2 s.

    .venv/bin/python bench/infer.py                         # both sizes, 1 and 2 threads (about 5 minutes)
    .venv/bin/python bench/infer.py --sizes small --threads 1 --steps 10   # a quick look
    .venv/bin/python bench/infer.py --guidance 2     # also the wall time with text guidance (2B AR rows)

Prints Markdown tables; `--json` also writes the numbers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

PROMPT_FRAMES = 225  # 3 s at 75 frames/s
TEXT_TOKENS = 60
OUTPUT_FRAMES = 150  # 2 s
SIZES = {"default": {}, "small": {"decoder_dim": 256, "nhead": 8, "num_decoder_layers": 6}}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="default,small", help="comma-separated: default, small")
    p.add_argument("--threads", default="1,2", help="torch CPU thread counts")
    p.add_argument("--steps", type=int, default=24, help="cached AR steps timed per measurement")
    p.add_argument("--uncached-steps", type=int, default=3, help="uncached AR steps timed at each sequence length")
    p.add_argument("--batch", type=int, default=8, help="the larger batch size")
    p.add_argument("--rounds", type=int, default=2, help="alternating batch-1 / batch-N measurements (pooled)")
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.add_argument("--dtype", default=None, help="float32 | bfloat16 (default: bfloat16 on CUDA, float32 on CPU)")
    p.add_argument("--skip-wall", action="store_true", help="skip the end-to-end 150-frame run")
    p.add_argument("--guidance", type=float, default=0.0,
                   help="> 0: time the end-to-end run a second time with this text guidance weight")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    p.add_argument("--gpu-warmup", type=float, default=5.0, help="seconds of matrix products before timing (CUDA)")
    return p.parse_args()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def warm_gpu(device: torch.device, seconds: float) -> None:
    """Keep the GPU busy for `seconds` before anything is timed.

    An idle GPU sits at low clocks (an H200 read 345 MHz idle, 1980 MHz under load), and decoding steps are too
    small to raise them quickly.  In the first GPU run of this script (one H200, no warm-up), the first process
    (bf16) stepped 4-7x slower than a float32 process right after it, and its weight-streaming pass over the
    12 x 1024 model read 300 GB/s against 948: a cold GPU is the likely cause (not established; docs/infer.md).
    """
    if device.type != "cuda" or seconds <= 0:
        return
    a = torch.randn(4096, 4096, device=device)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(20):
            a = torch.tanh(a @ a)
        sync(device)


def inputs(config: Any, batch: int, prompt_frames: int, device: torch.device, seed: int = 0):
    """`batch` different rows: [BOS, 58 text ids, EOS] and prompt codes [B, P, Q]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(3, config.num_text_tokens, (batch, TEXT_TOKENS), generator=g)
    x[:, 0], x[:, -1] = 1, 2
    x_lens = torch.full((batch,), TEXT_TOKENS)
    prompt = torch.randint(0, config.num_audio_tokens, (batch, prompt_frames, config.num_quantizers), generator=g)
    return x.to(device), x_lens.to(device), prompt.to(device)


def stream_pass(model: Any, device: torch.device) -> tuple[Callable[[], None], int]:
    """One matrix-vector pass over the AR stack's weight matrices and output layer, and its size in bytes."""
    mats = [m for name, m in model.named_parameters() if name.startswith("ar_decoder.") and m.ndim == 2]
    mats.append(model.ar_predict_layer.weight)
    vecs = {m.shape[1]: torch.randn(1, m.shape[1], device=device, dtype=m.dtype) for m in mats}

    def run() -> None:
        for m in mats:
            F.linear(vecs[m.shape[1]], m)
        sync(device)

    return run, sum(m.numel() * m.element_size() for m in mats)


def timed_ar(
    model: Any, x, x_lens, prompt, frames: int, use_cache: bool, device: torch.device,
    between: Callable[[], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Run the real AR loop for exactly `frames` frames; per-step times from the sampler's call times.

    `between` (the stream pass) runs inside the sampler between steps and is timed separately, so both
    are measured under the same machine load; its time is excluded from the step times.
    """
    from valle.models.generate import _decode_ar

    stamps: list[tuple[float, float]] = []  # (sampler entered, sampler left)
    extra: list[float] = []

    def greedy(logits: torch.Tensor, _history: torch.Tensor) -> torch.Tensor:
        sync(device)
        entered = time.perf_counter()
        if between is not None:
            between()
            extra.append(time.perf_counter() - entered)
        ids = logits.argmax(-1)
        stamps.append((entered, time.perf_counter()))
        return ids

    b = x.shape[0]
    lens = torch.full((b,), prompt.shape[1], device=device)
    caps = torch.full((b,), frames, device=device)
    sync(device)
    start = time.perf_counter()
    with torch.inference_mode():
        _decode_ar(model, x, x_lens, prompt[..., 0], lens, caps, caps, use_cache, greedy, [""] * b)  # min = cap
    steps = [nxt[0] - cur[1] for cur, nxt in itertools.pairwise(stamps)]
    return {"prefill_s": stamps[0][0] - start, "steps": steps, "between": extra}


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    with torch.inference_mode():
        fn()
    sync(device)
    return time.perf_counter() - start


def bench_size(name: str, threads: int, args: argparse.Namespace, codec: Any) -> dict[str, Any]:
    from valle.models import ModelConfig, build_model
    from valle.models.generate import decode_nar, generate_batch

    torch.set_num_threads(threads)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype) if args.dtype else (torch.bfloat16 if device.type == "cuda" else torch.float32)
    torch.manual_seed(0)
    model = build_model(ModelConfig(**SIZES[name])).to(device=device, dtype=dtype).eval()
    c = model.config
    r: dict[str, Any] = {"size": name, "threads": threads, "device": str(device), "dtype": str(dtype).split(".")[-1]}
    r["load_before"] = os.getloadavg()[0]  # other jobs on a shared machine slow compute-bound parts most
    r["params_M"] = model.parameter_counts()["total"] / 1e6
    stream, nbytes = stream_pass(model, device)
    x1, l1, p1 = inputs(c, 1, PROMPT_FRAMES, device)
    xb, lb, pb = inputs(c, args.batch, PROMPT_FRAMES, device, seed=1)
    timed_ar(model, x1, l1, p1, 4, True, device)  # warm-up (first-call allocations)
    timed_ar(model, x1, l1, p1, 2, False, device)  # and the uncached path's (its first call on a GPU was 11x slower)
    b1_steps, bn_steps, streams, prefill_b1, prefill_bn = [], [], [], [], []
    for _ in range(args.rounds):  # alternate batch 1 and batch N so both see the same load
        b1 = timed_ar(model, x1, l1, p1, args.steps + 1, True, device, between=stream)
        bn = timed_ar(model, xb, lb, pb, args.steps + 1, True, device)
        b1_steps += b1["steps"]
        streams += b1["between"]
        bn_steps += bn["steps"]
        prefill_b1.append(b1["prefill_s"])
        prefill_bn.append(bn["prefill_s"])
    r["stream_ms"], r["stream_min_ms"] = 1e3 * statistics.median(streams), 1e3 * min(streams)
    r["stream_GBps"] = nbytes / min(streams) / 1e9
    r["cached_b1_ms"], r["cached_bN_ms"] = 1e3 * statistics.median(b1_steps), 1e3 * statistics.median(bn_steps)
    r["prefill_b1_s"], r["prefill_bN_s"] = statistics.median(prefill_b1), statistics.median(prefill_bn)
    end_prompt = PROMPT_FRAMES + OUTPUT_FRAMES - args.uncached_steps  # the last steps of a 150-frame output
    early = 1e3 * statistics.median(timed_ar(model, x1, l1, p1, args.uncached_steps + 1, False, device)["steps"])
    _, _, p_end = inputs(c, 1, end_prompt, device)
    late = 1e3 * statistics.median(timed_ar(model, x1, l1, p_end, args.uncached_steps + 1, False, device)["steps"])
    r["uncached_first_ms"], r["uncached_last_ms"], r["uncached_ms"] = early, late, (early + late) / 2
    g = torch.Generator().manual_seed(2)
    gen = torch.randint(0, c.num_audio_tokens, (1, OUTPUT_FRAMES), generator=g).to(device)
    r["nar_s"] = timed(lambda: decode_nar(model, x1, l1, p1, gen, None), device)
    if not args.skip_wall:

        def full(guidance: float = 0.0) -> None:
            (codes,) = generate_batch(model, x1, l1, p1, top_k=1, max_new_frames=OUTPUT_FRAMES,
                                      min_new_frames=OUTPUT_FRAMES, guidance=guidance)  # fmt: skip
            if codec is not None:
                codec.decode(codes.T.unsqueeze(0).cpu())

        r["wall_s"] = timed(full, device)
        r["rtf"] = r["wall_s"] / (OUTPUT_FRAMES / 75)
        if args.guidance > 0:
            r["wall_guided_s"] = timed(lambda: full(args.guidance), device)
    r["load_after"] = os.getloadavg()[0]
    return r


def derived(r: dict[str, Any], batch: int) -> dict[str, Any]:
    r["cached_vs_stream"] = r["cached_b1_ms"] / r["stream_ms"]
    r["cached_speedup"] = r["uncached_ms"] / r["cached_b1_ms"]
    r["fps_b1"] = 1e3 / r["cached_b1_ms"]
    r["fps_bN"] = batch * 1e3 / r["cached_bN_ms"]
    r["batch_gain"] = r["fps_bN"] / r["fps_b1"]
    return r


def print_tables(rows: list[dict[str, Any]], batch: int) -> None:
    print(f"\n### AR decoding ({TEXT_TOKENS} text tokens, {PROMPT_FRAMES}-frame prompt; ms per frame)\n")
    print(f"| size | threads | stream limit | cached b1 | cached / limit | uncached (first, last) | cached speed-up "
          f"| b{batch} ms/step | frames/s b1 | frames/s b{batch} | b{batch} / b1 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['threads']} | {r['stream_ms']:.1f} (min {r['stream_min_ms']:.1f}, {r['stream_GBps']:.0f} GB/s) "
              f"| {r['cached_b1_ms']:.1f} | {r['cached_vs_stream']:.2f}x "
              f"| {r['uncached_ms']:.0f} ({r['uncached_first_ms']:.0f}, {r['uncached_last_ms']:.0f}) "
              f"| {r['cached_speedup']:.1f}x | {r['cached_bN_ms']:.1f} | {r['fps_b1']:.1f} | {r['fps_bN']:.1f} "
              f"| {r['batch_gain']:.2f}x |")  # fmt: skip
    print(f"\n### End to end (batch 1, {OUTPUT_FRAMES} frames = 2 s of speech)\n")
    print(f"| size | threads | params | prefill b1 | prefill b{batch} | NAR 7 stages | wall (incl. codec) | RTF "
          "| load avg (before, after) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        wall = f"{r['wall_s']:.1f} s | {r['rtf']:.2f}" if "wall_s" in r else "- | -"
        print(f"| {r['size']} | {r['threads']} | {r['params_M']:.1f} M | {r['prefill_b1_s']:.2f} s "
              f"| {r['prefill_bN_s']:.2f} s | {r['nar_s']:.2f} s | {wall} "
              f"| {r['load_before']:.1f}, {r['load_after']:.1f} |")  # fmt: skip
    guided = [r for r in rows if "wall_guided_s" in r]
    if guided:
        print("\n### End to end with text guidance (the same run; the AR decodes 2 rows, the NAR 1)\n")
        print("| size | threads | wall | wall with guidance | ratio |\n|---|---|---|---|---|")
        for r in guided:
            print(f"| {r['size']} | {r['threads']} | {r['wall_s']:.2f} s | {r['wall_guided_s']:.2f} s "
                  f"| {r['wall_guided_s'] / r['wall_s']:.2f}x |")


def main() -> None:
    import logging

    args = parse_args()
    logging.basicConfig(level=logging.ERROR)  # forced lengths trigger "no EOS" warnings by design
    codec = None
    if not args.skip_wall:
        from valle.codec import random_encodec

        codec = random_encodec(seed=0, device=args.device)
    warm_gpu(torch.device(args.device), args.gpu_warmup)
    rows = []
    for name in args.sizes.split(","):
        for threads in (int(t) for t in args.threads.split(",")):
            r = derived(bench_size(name, threads, args, codec), args.batch)
            rows.append(r)
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}), flush=True)
    print_tables(rows, args.batch)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
