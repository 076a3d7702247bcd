"""`valle make-voice`: encode an acoustic prompt once and save it as a reusable voice.

    valle make-voice --checkpoint exp/best.pt --name alice --audio-prompts alice.wav --text-prompts "Hi, I'm Alice."
    valle infer --checkpoint exp/best.pt --voice alice --text "Hello there."

The voice holds the prompt's codes (from the checkpoint's codec) and its phonemes, so `infer --voice`
needs neither the audio file nor a codec encoder pass.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from valle.commands.infer import add_model_arguments, check_prompt_counts, load_synthesizer

NAME = "make-voice"
HELP = "encode prompt audio + transcript once into a reusable voice file (for infer --voice)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True, help="voice name (file NAME.voice.pt in --voice-dir unless --out)")
    p.add_argument("--audio-prompts", required=True, help="prompt audio file(s), separated by |")
    p.add_argument("--text-prompts", default=None,
                   help="their transcript(s), separated by | (aligned; left out: Whisper hears them, with the eval "
                        "extra installed)")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="voice file to write (default: --voice-dir/NAME.voice.pt)")
    add_model_arguments(p)


def run(args: argparse.Namespace) -> int:
    from valle.infer.voice import voice_path

    audio = [a.strip() for a in args.audio_prompts.split("|") if a.strip()]
    texts = None if args.text_prompts is None else [t.strip() for t in args.text_prompts.split("|")]
    check_prompt_counts(audio, texts)
    out = args.out or voice_path(args.name, args.voice_dir)
    synth = load_synthesizer(args)
    voice = synth.make_voice(audio, texts, name=args.name)
    voice.save(out)
    print(f"wrote voice {args.name!r} to {out} ({voice.duration:.2f} s, {voice.num_frames} frames, "
          f"{len(voice.tokens)} text tokens)")  # fmt: skip
    return 0
