"""Silent outputs: how often a checkpoint says nothing, before and after `synthesize_batch`'s retry.

A model that wants to stop at once is held back by the minimum length and fills its output with silence. This
happens most after a prompt that ends in digital silence (the demo corpus's recordings end in 0.3-0.45 s of
zeros). `Synthesizer.synthesize_batch` then decodes the item once more without that padding. This bench counts
silent outputs (`valle.infer.silence.is_silent`) for a few texts after several unseen-voice prompts, with the
checkpoint's recommended settings and seeds 0..N-1, in two ways:
- without the retry: `decode_requests` + `render`, the server's path;
- with the retry: `synthesize_batch`.

    .venv/bin/valle demo --work-dir demo_check --minutes 0        # once: the demo corpus (or any demo work dir)
    .venv/bin/python bench/silence.py --corpus demo_check/corpus

About a minute per text on 2 CPU cores with the defaults (8 prompts x 4 seeds).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

TEXTS = ("Hello there.", "Be careful how you get there, my friend.")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, required=True, help="a synthetic corpus root (its test-clean part is used)")
    p.add_argument("--checkpoint", default="synth-small", help="checkpoint path or model name")
    p.add_argument("--prompts", type=int, default=8, help="test-clean recordings used as prompts, spread over the part")
    p.add_argument("--seeds", type=int, default=4, help="sampling seeds 0..N-1 per prompt and text")
    p.add_argument("--texts", default="|".join(TEXTS), help="texts to speak, separated by |")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.ERROR)
    import torch

    from valle.codec.sources import list_audio_files
    from valle.infer import load_model
    from valle.infer.silence import is_silent

    torch.set_num_threads(2)
    synth = load_model(args.checkpoint, "cpu")
    wavs = sorted(list_audio_files(args.corpus / "test-clean"))
    step = max(1, len(wavs) // args.prompts)
    prompts = wavs[::step][: args.prompts]
    print(f"\n{args.checkpoint}: {len(prompts)} unseen-voice prompts x seeds 0-{args.seeds - 1}, recommended settings\n")
    print("| text | silent without the retry | silent with the retry |")
    print("|---|---|---|")
    for text in args.texts.split("|"):
        before = after = total = 0
        for prompt in prompts:
            transcript = prompt.with_suffix("").with_suffix(".normalized.txt").read_text().strip()
            requests = [{"text": text, "prompt_audio": str(prompt), "prompt_text": transcript,
                         "options": synth.options.with_changes(seed=s)} for s in range(args.seeds)]  # fmt: skip
            plain = synth.render(synth.decode_requests(requests), warn_silent=False)
            before += sum(is_silent(wav) for wav, _ in plain)
            after += sum(is_silent(wav) for wav, _ in synth.synthesize_batch(requests))
            total += len(requests)
        print(f"| {text} | {before} of {total} | {after} of {total} |", flush=True)


if __name__ == "__main__":
    main()
