"""`valle eval`: WER / speaker similarity / DNSMOS for a list of synthesized utterances."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "eval"
HELP = "objective metrics (WER or CER, speaker similarity, DNSMOS) for synthesized speech (needs .[eval])"
LANGUAGES = ("en", "zh")  # what the text normalisation and the too-fast bound know; others would score as English


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--list", type=Path, required=True,
                   help="TSV with header: output, text[, prompt, ground_truth, speaker] (paths relative to it)")
    p.add_argument("--language", default="en", choices=LANGUAGES, help="'en' (WER) or 'zh' (CER)")
    p.add_argument("--out", type=Path, default=None, help="write per-item results and the summary as JSON")


def run(args: argparse.Namespace) -> int:
    from valle.eval.evaluate import different_speaker_baseline, evaluate, read_item_list, results_as_dicts, summarize
    from valle.eval.metrics import max_units_per_second
    from valle.utils import atomic_write, make_parents

    items = read_item_list(args.list)
    if args.out:
        make_parents(args.out)
    results = evaluate(items, language=args.language)
    summary = summarize(results)
    summary["sim_different_speakers"] = different_speaker_baseline(items)
    print("| metric | value |\n|---|---|")
    for k, v in summary.items():
        print(f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |")
    if summary["too_fast"]:
        unit = "characters" if args.language.startswith("zh") else "words"
        print(f"too_fast: {summary['too_fast']} transcript(s) run faster than "
              f"{max_units_per_second(args.language):g} {unit}/s, the recognizer "
              "hearing babble as words; their WER counts in full (per-item units_per_second in --out)")
    if summary["empty"]:
        print(f"empty: {summary['empty']} output(s) hold no audio; their WER counts in full, DNSMOS and speaker "
              "similarity leave them out (per-item 'empty' in --out)")
    if args.out:
        with atomic_write(args.out) as tmp:
            tmp.write_text(json.dumps({"summary": summary, "items": results_as_dicts(results)}, indent=1))
    return 0
