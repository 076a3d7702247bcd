"""`valle infer`: lifeiteng/vall-e's `bin/infer.py` flags, plus sampling, batching and saved voices.

    valle infer --checkpoint exp/best.pt --text-prompts "Go to her." --audio-prompts prompt.wav \\
        --text "Hello there.|How are you?" --output-dir infer/demo          # writes infer/demo/0.wav, 1.wav
    valle infer --checkpoint exp/best.pt --text demo.tsv    # prompt_text \\t prompt_audio \\t text \\t out_wav
    valle infer --checkpoint exp/best.pt --voice alice --text "Hi." --top-k 50 --ras --seed 0
    valle infer --checkpoint exp/best.pt --continual --text-prompts "Full transcript." --audio-prompts utt.wav

A bad item in a batch (unreadable prompt, empty text, unknown symbols) is reported on one line and
skipped; the others are still written, and the exit code is then 2.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from valle.utils import make_parents

NAME = "infer"
HELP = "synthesize speech from text and an acoustic prompt (lifeiteng/vall-e's infer.py flags)"
REFERENCE_TEXT = "To get up and running quickly just follow the steps below."  # the reference's --text default

logger = logging.getLogger(__name__)


def str2bool(value: str) -> bool:
    """The reference's boolean flags take a value (`--continual true`); a bare flag means true."""
    text = value.lower()
    if text in ("1", "true", "yes", "y", "t"):
        return True
    if text in ("0", "false", "no", "n", "f"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """Flags that pick the model, its text front-end and codec (shared with `valle make-voice`)."""
    g = p.add_argument_group("model")
    g.add_argument(
        "--checkpoint", required=True,
        help="checkpoint file (valle or lifeiteng/vall-e format) or a model name ('synth-small': the one that ships "
             "with valle)"
    )
    g.add_argument("--text-tokens", type=Path, default=None,
                   help="unique_text_tokens.k2symbols; required for lifeiteng/vall-e checkpoints")  # fmt: skip
    g.add_argument("--text-extractor", default=None,
                   help="text front-end for checkpoints that do not record one: espeak | pypinyin | "
                        "pypinyin_initials_finals | char (default: espeak, as the reference)")  # fmt: skip
    g.add_argument("--codec", default=None, help="codec spec or file (default: the one the checkpoint records)")
    g.add_argument(
        "--voice-dir", type=Path, default=None, help="folder of saved voices (default ~/.cache/valle/voices)"
    )
    g.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    g.add_argument("--num-threads", type=int, default=None, help="torch CPU threads (default: torch's)")


def add_draw_arguments(g: Any, candidates_help: str) -> None:
    """--candidates and --reader (best of N draws), shared with `valle serve`."""
    g.add_argument("--candidates", type=int, default=None, help=candidates_help)
    g.add_argument("--reader", type=Path, default=None,
                   help="code reader for candidates > 1 (valle train-reader; default: the one shipped for the "
                        "built-in codec)")  # fmt: skip


FROM_CKPT = " (default: the checkpoint's setting, else the reference's)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("lifeiteng/vall-e infer.py flags")
    g.add_argument("--text-prompts", default=None,
                   help="transcripts of the audio prompts, separated by | (left out: Whisper hears them, with the "
                        "eval extra installed)")  # fmt: skip
    g.add_argument(
        "--audio-prompts", default="", help="prompt audio files, separated by | (aligned with --text-prompts)"
    )
    g.add_argument("--text", default=None,
                   help="texts to synthesize, separated by |, or a TSV file of "
                        "'prompt_text<TAB>prompt_audio<TAB>text<TAB>out_wav' lines")  # fmt: skip
    g.add_argument("--output-dir", type=Path, default=Path("infer/demo"), help="where N.wav files are written")
    g.add_argument("--top-k", type=int, default=None, help="AR top-k sampling (<= 0: off; 1: greedy)" + FROM_CKPT)
    g.add_argument("--temperature", type=float, default=None, help="AR sampling temperature" + FROM_CKPT)
    g.add_argument("--continual", type=str2bool, nargs="?", const=True, default=False,
                   help="re-synthesize the prompt utterance from its first 3 s (no --text)")  # fmt: skip
    add_model_arguments(p)
    s = p.add_argument_group("sampling and batching (valle additions; unset flags: the checkpoint's settings)")
    s.add_argument("--top-p", type=float, default=None, help="nucleus sampling threshold (1.0: off)")
    s.add_argument("--ras", type=str2bool, nargs="?", const=True, default=None,
                   help="VALL-E 2 repetition-aware sampling")  # fmt: skip
    s.add_argument("--ras-window", type=int, default=None, help="repetition window K")
    s.add_argument("--ras-threshold", type=float, default=None, help="repetition ratio t_r that triggers a redraw")
    s.add_argument("--seed", type=int, default=None,
                   help="sampling seed (same seed: the same codes, batched or not; the audio to float rounding)")
    s.add_argument("--batch-size", type=int, default=None, help="texts decoded together")
    s.add_argument("--max-new-frames", type=int, default=None, help="length cap in frames (default 16 per text token)")
    s.add_argument("--min-new-frames", type=int, default=None, help="frames before EOS is allowed")
    s.add_argument("--min-length-ratio", type=float, default=None,
                   help="EOS waits for this fraction of the length the prompt's speaking rate predicts (0: off)")  # fmt: skip
    s.add_argument("--guidance", type=float, default=None,
                   help="text guidance weight (0: off; for checkpoints trained with --text-dropout)")  # fmt: skip
    s.add_argument("--nar-temperature", type=float, default=None,
                   help="0: decode the NAR's argmax codes; > 0: the codec decodes the expected code vector under "
                        "softmax(NAR logits / T) for codebooks 2-8 (the NAR never samples)")  # fmt: skip
    add_draw_arguments(s, "AR draws per text; > 1 keeps the draw the code reader reads most plainly as the text "
                          "(1: one draw)")  # fmt: skip
    s.add_argument("--max-text-tokens", type=int, default=None, help="split longer texts into sentences (0: never)")
    s.add_argument(
        "--no-kv-cache", action="store_true", help="re-run the whole sequence per step (the reference's way)"
    )
    s.add_argument("--voice", default=None, help="a saved voice (name or file) instead of the prompt flags")


# Flags that map one-to-one onto `SynthesisOptions` fields; unset ones keep the checkpoint's recommendation.
OPTION_FLAGS = ("top_k", "top_p", "temperature", "ras", "ras_window", "ras_threshold", "seed", "batch_size",
                "max_new_frames", "min_new_frames", "min_length_ratio", "guidance", "nar_temperature",
                "candidates")  # fmt: skip


def option_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The synthesis options the flags set (checked now, before a model is loaded)."""
    from valle.infer import SynthesisOptions

    changes = {name: getattr(args, name) for name in OPTION_FLAGS if getattr(args, name) is not None}
    if args.max_text_tokens is not None:
        changes["max_text_tokens"] = args.max_text_tokens or None  # 0: never split
    if args.no_kv_cache:
        changes["use_cache"] = False
    SynthesisOptions().with_changes(**changes)
    return changes


def load_synthesizer(args: argparse.Namespace, changes: dict[str, Any] | None = None) -> Any:
    """The `Synthesizer` the model flags describe (threads set, device resolved), its options = the
    checkpoint's recommended ones with `changes` applied."""
    from valle.infer import load_model
    from valle.utils import resolve_device, set_num_threads

    set_num_threads(args.num_threads)
    device = resolve_device(args.device)
    tokenizer = None
    if args.text_extractor is not None:
        tokenizer = {"backend": args.text_extractor, "normalize": False}
    synth = load_model(args.checkpoint, device, codec=args.codec, text_tokens=args.text_tokens, tokenizer=tokenizer,
                       voice_dir=args.voice_dir, reader=getattr(args, "reader", None))  # fmt: skip
    synth.options = synth.options.with_changes(**(changes or {}))
    synth.require_reader(synth.options)  # before any prompt is encoded
    return synth


def run(args: argparse.Namespace) -> int:
    from valle.errors import InvalidInputError, MissingFileError

    changes = option_changes(args)
    audio, texts = _split(args.audio_prompts), _split(args.text_prompts)
    _check_prompt_flags(args, audio, texts)  # before loading a model that may take seconds
    text = REFERENCE_TEXT if args.text is None else args.text
    if args.continual:
        if args.text:
            raise InvalidInputError("--continual re-synthesizes the prompt utterance itself; leave --text out")
        if args.voice is not None or not audio:
            raise InvalidInputError("--continual re-synthesizes a recording: give it with --audio-prompts (and its "
                                    "transcript with --text-prompts), not --voice")  # fmt: skip
        make_parents(args.output_dir / "0.wav")
        synth = load_synthesizer(args, changes)
        wav, sr = synth.continual(audio, _transcripts(args, texts))
        _write(args.output_dir / "0.wav", wav, sr)
        return 0
    synth = load_synthesizer(args, changes)
    if Path(text).is_file():
        jobs = _tsv_jobs(Path(text))
    elif text.endswith(".tsv") and "|" not in text:
        raise MissingFileError(f"--text {text} looks like a TSV file but it does not exist; check the path")
    else:
        voice = _voice(synth, args, audio, texts)
        jobs = [({"text": t, "voice": voice, "name": f"text {n}"}, args.output_dir / f"{n}.wav")
                for n, t in enumerate(text.split("|"))]  # fmt: skip
    return _synthesize(synth, jobs)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split("|")] if value else []


def _check_prompt_flags(args: argparse.Namespace, audio: list[str], texts: list[str]) -> None:
    from valle.errors import InvalidInputError

    if args.voice is not None and audio:
        raise InvalidInputError("give either --voice or --audio-prompts, not both")
    check_prompt_counts(audio, texts)


def check_prompt_counts(audio: list[str], texts: list[str] | None) -> None:
    """One transcript per prompt file, when transcripts are given (shared with `valle make-voice`)."""
    from valle.errors import InvalidInputError

    if texts and audio and len(texts) != len(audio):
        raise InvalidInputError(
            f"--audio-prompts has {len(audio)} file(s) but --text-prompts has {len(texts)} transcript(s); "
            "give one transcript per prompt, separated by |"
        )


def _voice(synth: Any, args: argparse.Namespace, audio: list[str], texts: list[str]) -> Any:
    from valle.errors import InvalidInputError
    from valle.infer import find_voice

    if args.voice is not None:
        return find_voice(args.voice, args.voice_dir)
    if not audio:
        raise InvalidInputError("no prompt: give --audio-prompts (with --text-prompts) or --voice NAME")
    return synth.make_voice(audio, _transcripts(args, texts), name="prompt")


def _transcripts(args: argparse.Namespace, texts: list[str]) -> list[str] | None:
    """The prompts' transcripts; None when `--text-prompts` is left out, so that Whisper hears them."""
    return None if args.text_prompts is None else texts


def _tsv_jobs(path: Path) -> list[tuple[dict[str, Any] | None, Path | None]]:
    """One job per line of `prompt_text \\t prompt_audio \\t text \\t out_wav` (bad lines: None, reported)."""
    jobs: list[tuple[dict[str, Any] | None, Path | None]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 4:
            logger.warning("%s line %d has %d tab-separated fields, expected 4 "
                           "(prompt_text, prompt_audio, text, out_wav); skipped", path, n, len(fields))  # fmt: skip
            jobs.append((None, None))
            continue
        prompt_text, prompt_audio, text, out = fields
        request = {
            "text": text,
            "prompt_audio": prompt_audio,
            "prompt_text": prompt_text if prompt_text.strip() else None,  # an empty field: Whisper hears it
            "name": f"{path.name} line {n}",
        }
        jobs.append((request, Path(out)))
    return jobs


def _synthesize(synth: Any, jobs: list[tuple[dict[str, Any] | None, Path | None]]) -> int:
    """Speak every job and write its wav; exit code 2 when an item failed or came out silent.

    A silent output is still written (to listen to), but counts as a failure: the text was not spoken.
    """
    from valle.infer.silence import is_silent

    good = [(req, out) for req, out in jobs if req is not None and out is not None]
    make_parents(*(out for _, out in good))
    start = time.perf_counter()
    results = synth.synthesize_batch([req for req, _ in good], on_error="skip")
    elapsed = time.perf_counter() - start
    seconds, silent = 0.0, 0
    for (req, out), result in zip(good, results):
        if result is None:
            continue
        wav, sr = result
        _write(out, wav, sr)
        seconds += len(wav) / sr
        silent += is_silent(wav)
    written = sum(r is not None for r in results)
    failed = len(jobs) - written
    rtf = f", real-time factor {elapsed / seconds:.2f}" if seconds else ""
    print(f"synthesized {written} of {len(jobs)} item(s): {seconds:.1f} s of audio in {elapsed:.1f} s{rtf}")
    if silent:
        print(f"{silent} of them silent: the model spoke none of their text (see the warnings above); try another "
              "--seed, a longer text or another prompt")  # fmt: skip
    return 2 if failed or silent else 0


def _write(path: Path, wav: Any, sr: int) -> None:
    import soundfile as sf

    from valle.infer.voice import readable_by_all
    from valle.utils import atomic_write

    with atomic_write(path) as tmp:
        sf.write(str(tmp), wav, sr, format="WAV", subtype="PCM_16")
    readable_by_all(path)
    print(f"wrote {path} ({len(wav) / sr:.2f} s)")
