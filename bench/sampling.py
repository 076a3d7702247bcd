"""Sampling benchmark: how the AR's sampling settings change the speech of one checkpoint, in one table.

Every setting speaks the demo's unseen-voice items (2 per held-out speaker: the shortest utterances are the
prompts, the longest the texts) with the same checkpoint, and `valle eval`'s metrics score them: WER (faster-whisper),
speaker similarity prompt<->output, DNSMOS, plus how many outputs came back empty and the mean output/ground-truth
duration.  This is how the shipped checkpoint's recommended settings (`valle model-info`) were chosen.

    .venv/bin/valle demo --work-dir demo_check --minutes 0        # once: the demo corpus (or any demo work dir)
    .venv/bin/python bench/sampling.py --corpus demo_check/corpus --checkpoint valle/assets/valle-synth-small.pt

Needs the `eval` extra.  About 3 minutes per setting on 2 CPU cores.  Sampling is seeded (--seeds), so a rerun
gives the same audio; the spread between seeds is the noise to read the table against (--seeds 0,1).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import re
import statistics
from pathlib import Path

import soundfile as sf

from valle.demo.speak import SAMPLING

# name -> changes to SynthesisOptions() (not to the checkpoint's recommendation); each row adds its seed and
# the --max-seconds length cap.  Rows built on ONE_DRAW decode expected NAR frames at T 0.5 since that became the
# recommendation; the tables in docs/pretrained from before it used the NAR's argmax codes.  Until 2026-11-28 the
# "(shipped)" row was one draw per text: that row is now "(shipped before, one draw)".
SHIPPED = {k: v for k, v in SAMPLING.items() if k != "seed"}  # the demo's settings = the shipped recommendation
ONE_DRAW = {k: v for k, v in SHIPPED.items() if k != "candidates"}  # the same, one AR draw per text
SETTINGS: dict[str, dict[str, object]] = {
    "reference: top-k off, T 1": {"top_k": -100, "temperature": 1.0},
    "reference + min_length_ratio 0.5": {"top_k": -100, "temperature": 1.0, "min_length_ratio": 0.5},
    "top-k 50, T 1, RAS (the demo before)": {"top_k": 50, "temperature": 1.0, "ras": True},
    "top-k 10, T 0.7, RAS": {"top_k": 10, "temperature": 0.7, "ras": True},
    "top-k 10, T 0.7, RAS, min_length_ratio 0.5, NAR argmax (shipped earlier)": {**ONE_DRAW, "nar_temperature": 0.0},
    "top-k 10, T 0.7, RAS, min_length_ratio 0.5, NAR expected T 0.5 (shipped before, one draw)": ONE_DRAW,
    "top-k 10, T 0.7, RAS, min_length_ratio 0.5, NAR expected T 0.5, best of 4 by the code reader (shipped)": SHIPPED,
    "top-k 5, T 0.5, RAS, min_length_ratio 0.5": {**ONE_DRAW, "top_k": 5, "temperature": 0.5},
    "top-k 10, T 0.7, RAS, min_length_ratio 0.7": {**ONE_DRAW, "min_length_ratio": 0.7},
    "top-k 10, T 0.85, RAS, min_length_ratio 0.5": {**ONE_DRAW, "temperature": 0.85},
    # RAS's redraw threshold: at t_r 0.1 one repeat in the last 10 codes triggers it, which codebook 1 of real
    # speech does at 46 % of frames with the built-in codec (15 % for three repeats)
    "top-k 10, T 0.7, RAS t_r 0.3, min_length_ratio 0.5": {**ONE_DRAW, "ras_threshold": 0.3},
    "top-k 10, T 0.7, RAS, min_length_ratio 0.5, NAR expected T 1": {**ONE_DRAW, "nar_temperature": 1.0},
    "top-k 10, T 0.7, RAS, min_length_ratio 0.5, NAR expected T 0.3": {**ONE_DRAW, "nar_temperature": 0.3},
    # ("the recommended settings" in the names below: one draw per text, as recommended when these rows were made)
    # shorter pieces: outputs start with the right words, then drift; the demo's test sentences are 63-131 tokens
    # (median 78), so at 40 each is spoken as 2-4 pieces at clause (else word) breaks, each from the prompt
    "the recommended settings, texts split at 40 tokens": {**ONE_DRAW, "max_text_tokens": 40},
    "the recommended settings, texts split at 60 tokens": {**ONE_DRAW, "max_text_tokens": 60},
    # best of N draws: the code reader (valle train-reader) keeps the draw whose codebook 1 it reads as the text
    "one draw's settings, best of 2 by the code reader": {**ONE_DRAW, "candidates": 2},
    "one draw's settings, best of 8 by the code reader": {**ONE_DRAW, "candidates": 8},
    # more varied draws for the reader to choose from
    "warmer draws (T 0.85), best of 4 by the code reader": {**SHIPPED, "temperature": 0.85},
    "wider draws (top-k 20), best of 4 by the code reader": {**SHIPPED, "top_k": 20},
    # text guidance: for checkpoints trained with --text-dropout (valle.models.guidance)
    "guidance 1 on the recommended settings": {**ONE_DRAW, "guidance": 1.0},
    "guidance 2 on the recommended settings": {**ONE_DRAW, "guidance": 2.0},
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, required=True, help="a synthetic corpus root (its test-clean part is used)")
    p.add_argument("--checkpoint", type=Path, default=Path("valle/assets/valle-synth-small.pt"))
    p.add_argument("--codec", type=Path, default=None, help="default: the one the checkpoint records")
    p.add_argument("--reader", type=Path, default=None,
                   help="code reader for the best-of-N rows (default: the shipped one)")  # fmt: skip
    p.add_argument("--items", type=int, default=16, help="items, spread over the test-clean speakers")
    p.add_argument("--seeds", default="0", help="comma-separated sampling seeds; one row per setting and seed")
    p.add_argument("--only", default=None, help="comma-separated parts: run the settings whose name has one as whole words")
    p.add_argument("--max-seconds", type=float, default=10.0, help="length cap per output (the demo's)")
    p.add_argument("--out-dir", type=Path, default=Path("bench/out/sampling"),
                   help="wavs, one folder per setting and seed (reused on rerun while checkpoint and settings match)")
    p.add_argument("--floor", action="store_true",
                   help="add a row: the shipped settings on random weights of the same shape (the untrained floor)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    return p.parse_args()


def _picked(name: str, wanted: list[str]) -> bool:
    """Whether a setting's name holds one of the --only parts as whole words ("top-k 5" is not "top-k 50")."""
    return any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", name) for w in wanted)


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.ERROR)
    import torch

    from valle.demo.speak import forget_stale_outputs, pick_items, speak_system, system_stamp, untrained_like
    from valle.eval.evaluate import EvalItem, evaluate, summarize
    from valle.eval.metrics import max_units_per_second
    from valle.infer import Synthesizer
    from valle.utils import file_sha256

    torch.set_num_threads(2)
    items = pick_items(args.corpus, args.items)
    synth = Synthesizer.from_checkpoint(args.checkpoint, codec=str(args.codec) if args.codec else None,
                                        reader=args.reader)  # fmt: skip
    truth_seconds = [sf.info(str(it.ground_truth)).duration for it in items]
    wanted = [s.strip() for s in args.only.split(",")] if args.only else None
    runs = [(name, changes, synth) for name, changes in SETTINGS.items() if not wanted or _picked(name, wanted)]
    if args.floor:
        floor = copy.copy(synth)  # the same codec and text front-end
        floor.model = untrained_like(synth.model)
        runs.append(("untrained floor: random weights, shipped settings", SHIPPED, floor))
    rows = []
    for name, changes, system in runs:
        for seed in (int(s) for s in args.seeds.split(",")):
            sampling, cap = {**changes, "seed": seed}, round(args.max_seconds * 75)
            folder = args.out_dir / f"{re.sub(r'[^a-z0-9.]+', '-', name.lower()).strip('-')}-seed{seed}"
            # a rerun reuses a row's wavs only while the checkpoint and the settings are the same
            stamp = system_stamp(args.checkpoint, seed, cap, sampling)
            if int(changes.get("candidates", 1)) > 1:  # which reader ranked the draws matters too
                stamp["reader_sha256"] = file_sha256(system.code_reader_path())
            forget_stale_outputs(folder, stamp)
            speak_system(system, items, folder, cap, sampling)
            outputs = [folder / f"{it.id}.wav" for it in items]
            durations = [sf.info(str(o)).duration if o.is_file() else 0.0 for o in outputs]
            empty = sum(d < 0.1 for d in durations)  # EOS at once (one frame): scored too, as mostly deletions
            scored = [EvalItem(output=o, text=it.text, prompt=it.prompt, speaker=it.speaker)
                      for o, it in zip(outputs, items) if o.is_file()]  # fmt: skip
            summary = summarize(evaluate(scored, progress=False)) if scored else {}
            ratio = statistics.mean(d / t for d, t in zip(durations, truth_seconds))
            rows.append({"setting": name, "seed": seed, "empty": empty, "duration_ratio": ratio, **summary})
            print(json.dumps(rows[-1]), flush=True)
    print(f"\n{args.checkpoint}, {len(items)} unseen-voice items (empty = shorter than 0.1 s; too fast = heard as "
          f"over {max_units_per_second():g} words/s, babble heard as words)\n")
    print("| setting | seed | WER ↓ | median WER ↓ | too fast | SIM ↑ | DNSMOS ↑ | empty | duration / truth |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        keys = ("wer", "wer_median", "sim_prompt_output")
        cells = [f"{r[k]:.3f}" if isinstance(r.get(k), float) else "-" for k in keys]
        cells.insert(2, str(r.get("too_fast", "-")))
        mos = f"{r['dnsmos']:.2f}" if isinstance(r.get("dnsmos"), float) else "-"
        print(f"| {r['setting']} | {r['seed']} | {' | '.join(cells)} | {mos} | {r['empty']} | {r['duration_ratio']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
