"""What best of N draws costs: wall time of `Synthesizer.synthesize` at 1, 4 and 8 AR draws per text, in one run.

The draws of a text run as rows of one AR batch, and only the kept draw goes through the NAR and the codec, so N
draws cost far less than N times one.  Items are the demo's unseen-voice ones (`bench/sampling.py`'s), spoken one
at a time after a warm-up, each with seed 0; the table gives the time per setting, the speech it made and the
real-time factor (time / speech).

    .venv/bin/python bench/candidates.py --corpus demo/corpus --threads 2
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, required=True, help="a synthetic corpus root (its test-clean part is used)")
    p.add_argument("--checkpoint", type=Path, default=Path("valle/assets/valle-synth-small.pt"))
    p.add_argument("--items", type=int, default=4, help="items, the first of bench/sampling.py's 16")
    p.add_argument("--draws", default="1,4,8", help="comma-separated numbers of draws (candidates) to time")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.ERROR)
    import torch

    from valle.demo.speak import SAMPLING, pick_items
    from valle.infer import Synthesizer

    torch.set_num_threads(args.threads)
    synth = Synthesizer.from_checkpoint(args.checkpoint)
    items = pick_items(args.corpus, 16)[: args.items]
    voices = [synth.make_voice(str(it.prompt), it.prompt_text) for it in items]
    sampling = {k: v for k, v in SAMPLING.items() if k != "candidates"}
    synth.synthesize(items[0].text, voice=voices[0], **sampling)  # warm-up: first-call costs out of the table
    print(f"\n{args.checkpoint}, {len(items)} items one at a time, {args.threads} thread(s)\n")
    print("| draws | time | speech | real-time factor | time / one draw's |")
    print("|---|---|---|---|---|")
    first = None
    for n in (int(d) for d in args.draws.split(",")):
        spent = speech = 0.0
        for it, voice in zip(items, voices):
            start = time.perf_counter()
            wav, sr = synth.synthesize(it.text, voice=voice, **{**sampling, "candidates": n})
            spent += time.perf_counter() - start
            speech += len(wav) / sr
        first = first or spent
        print(f"| {n} | {spent:.1f} s | {speech:.1f} s | {spent / speech:.2f} | {spent / first:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
