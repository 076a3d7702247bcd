"""Codec benchmark: speed (x real time) of every backend, and the built-in codec's reconstruction quality.

Quality: the built-in codec is fitted on the corpus's train-clean-100 part (or loaded from --codec) and
scored on held-out test-clean speakers with PESQ-WB (16 kHz) and STOI, decoding with the first
1/2/4/8 codebooks; "mel" is the unquantized ceiling (the vocoder on the true mel).
Speed: encode and decode of a --speed-seconds clip at 1 and 2 torch threads, for the built-in codec
(HiFi-GAN and Griffin-Lim decoders) and EnCodec (random weights: same compute as the real model).

    .venv/bin/valle synth-corpus --out /tmp/codec_corpus --speakers 12 --utterances-per-speaker 40
    .venv/bin/python bench/codec.py --corpus /tmp/codec_corpus --codec /tmp/codec_corpus_codec.pt

Needs the `eval` extra for quality (pesq, pystoi); prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, required=True, help="synthetic corpus root (train-clean-100, test-clean)")
    p.add_argument("--codec", type=Path, default=None, help="built-in codec file: loaded if present, else fitted here")
    p.add_argument("--eval-utterances", type=int, default=10, help="utterances scored per part (spread over speakers)")
    p.add_argument("--parts", default="test-clean",
                   help="corpus parts to score: test-clean = held-out speakers (all conditions); any other part "
                        "(dev-clean = seen speakers, unseen sentences) gets the mel ceiling and 8 codebooks only")
    p.add_argument("--speed-seconds", type=float, default=10.0, help="clip length for the speed test")
    p.add_argument("--threads", default="1,2", help="torch thread counts for the speed test")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    p.add_argument("--skip-quality", action="store_true")
    p.add_argument("--skip-speed", action="store_true")
    return p.parse_args()


def get_codec(args: argparse.Namespace):
    from valle.codec import BuiltinCodec, fit_builtin_codec
    from valle.codec.sources import list_audio_files

    if args.codec is not None and args.codec.is_file():
        return BuiltinCodec.load(args.codec)
    torch.set_num_threads(1)
    files = list_audio_files(args.corpus / "train-clean-100")
    codec = fit_builtin_codec(files, progress=True)
    if args.codec is not None:
        codec.save(args.codec)
    return codec


def held_out(corpus: Path, n: int, part: str = "test-clean") -> list[Path]:
    """n files of `part`, alternating over speakers (round robin), deterministic."""
    by_speaker = [sorted(d.rglob("*.wav")) for d in sorted((corpus / part).iterdir()) if d.is_dir()]
    out: list[Path] = []
    i = 0
    while len(out) < n and any(i < len(s) for s in by_speaker):
        out += [s[i] for s in by_speaker if i < len(s)][: n - len(out)]
        i += 1
    return out


def score(ref: torch.Tensor, out: torch.Tensor) -> tuple[float, float]:
    """(PESQ-WB, STOI) of a 24 kHz decoded waveform against the original."""
    from pesq import pesq
    from pystoi import stoi

    from valle.codec.audio import resample

    out = out[: ref.numel()]
    r16, o16 = resample(ref, 24_000, 16_000).numpy(), resample(out, 24_000, 16_000).numpy()
    return float(pesq(16_000, r16, o16, "wb")), float(stoi(ref.numpy(), out.numpy(), 24_000, extended=False))


def quality(codec, files: list[Path], full: bool = True) -> list[dict]:
    from valle.codec import load_audio

    torch.set_num_threads(1)
    if full:
        conditions = [("hifigan", q) for q in (None, 1, 2, 4, 8)] + [("griffin-lim", 8)]
    else:
        conditions = [("hifigan", None), ("hifigan", 8)]
    rows = []
    for vocoder, q in conditions:
        codec.vocoder = vocoder
        pesqs, stois = [], []
        for f in files:
            wav, _ = load_audio(f)
            if q is None:  # unquantized ceiling: the vocoder on the true log-mel
                mel = (codec.features(wav) * codec.std + codec.mean).T
                out = codec.vocode(mel)
            else:
                out = codec.decode(codec.encode(wav[None])[:, :q])[0]
            p, s = score(wav, out)
            pesqs.append(p)
            stois.append(s)
        rows.append({"vocoder": vocoder, "codebooks": q or "mel (no quantization)",
                     "pesq_wb": statistics.mean(pesqs), "stoi": statistics.mean(stois)})
        print(f"  {vocoder:11s} {q or 'mel'!s:4s} PESQ-WB {rows[-1]['pesq_wb']:.2f}  STOI {rows[-1]['stoi']:.3f}",
              flush=True)
    codec.vocoder = "hifigan"
    return rows


def timed(fn, repeats: int = 2) -> float:
    """Best of `repeats` wall times (the machine is shared: the minimum is the least disturbed run)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def speed(codec, clip: torch.Tensor, threads: list[int]) -> list[dict]:
    from valle.codec import random_encodec

    seconds = clip.numel() / 24_000
    backends = [("builtin + HiFi-GAN", codec, "hifigan"), ("builtin + Griffin-Lim", codec, "griffin-lim"),
                ("EnCodec 6 kbps", random_encodec(0), None)]
    rows = []
    for n in threads:
        torch.set_num_threads(n)
        for name, c, vocoder in backends:
            if vocoder is not None:
                c.vocoder = vocoder
            codes = c.encode(clip[None])
            c.decode(codes[:, :, :75])  # warm-up (loads the vocoder, primes kernels)
            enc = timed(lambda: c.encode(clip[None]))  # noqa: B023
            dec = timed(lambda: c.decode(codes))  # noqa: B023
            rows.append({"backend": name, "threads": n, "encode_x_rt": seconds / enc, "decode_x_rt": seconds / dec})
            print(f"  {name:22s} threads {n}: encode {seconds / enc:7.1f}x  decode {seconds / dec:6.2f}x real time",
                  flush=True)
    codec.vocoder = "hifigan"
    return rows


def main() -> None:
    args = parse_args()
    from valle.codec import load_audio

    t0 = time.perf_counter()
    codec = get_codec(args)
    info = codec.fit_info
    print(f"codec: {codec.num_codebooks} x {codec.codebook_size}, fitted on {info.get('audio_minutes')} min "
          f"in {info.get('fit_seconds')} s (hash {codec.identity['content_hash'][:12]})", flush=True)
    result: dict = {"codec": {k: v for k, v in codec.identity.items() if k != "mel"}, "fit": info,
                    "quality": [], "eval_files": []}
    for part in args.parts.split(",") if not args.skip_quality else []:
        files = held_out(args.corpus, args.eval_utterances, part)
        secs = sum(load_audio(f)[0].numel() for f in files) / 24_000
        print(f"quality on {len(files)} {part} utterances ({secs:.0f} s):", flush=True)
        rows = quality(codec, files, full=part == "test-clean")
        result["quality"] += [{"part": part, **r} for r in rows]
        result["eval_files"] += [str(f) for f in files]
    if not args.skip_speed:
        wavs = [load_audio(f)[0] for f in held_out(args.corpus, 40)]
        clip = torch.cat(wavs)[: int(args.speed_seconds * 24_000)]
        print(f"speed on a {clip.numel() / 24_000:.1f} s clip:", flush=True)
        result["speed"] = speed(codec, clip, [int(t) for t in args.threads.split(",")])
    print_tables(result)
    print(f"total {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


def print_tables(result: dict) -> None:
    if result.get("quality"):
        print("\n| part | decoder | codebooks | PESQ-WB | STOI |\n|---|---|---|---|---|")
        for r in result["quality"]:
            print(f"| {r['part']} | {r['vocoder']} | {r['codebooks']} | {r['pesq_wb']:.2f} | {r['stoi']:.3f} |")
    if "speed" in result:
        print("\n| backend | threads | encode (x real time) | decode (x real time) |\n|---|---|---|---|")
        for r in result["speed"]:
            print(f"| {r['backend']} | {r['threads']} | {r['encode_x_rt']:.1f} | {r['decode_x_rt']:.2f} |")


if __name__ == "__main__":
    main()
