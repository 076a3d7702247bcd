"""`valle fit-codec`: fit the built-in codec's codebooks on a corpus and write the codec file."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "fit-codec"
HELP = "fit the built-in offline codec (mel + residual k-means) on audio and write a codec file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--audio", type=Path, required=True,
                   help="training audio: a folder (recursive), a lhotse recordings/cuts manifest, or a list file")
    p.add_argument("--out", type=Path, default=None,
                   help="codec file to write (default: ~/.cache/valle/codec.pt, the default codec)")
    p.add_argument("--num-codebooks", type=int, default=8, help="codebooks (the paper: 8)")
    p.add_argument("--codebook-size", type=int, default=1024, help="entries per codebook (the paper: 1024)")
    p.add_argument("--iterations", type=int, default=30, help="k-means steps per codebook")
    p.add_argument("--max-frames", type=int, default=200_000,
                   help="fit on at most this many random frames (75 per second of audio; 0 = all)")
    p.add_argument("--max-files", type=int, default=None, help="use only the first N files (quick trials)")
    p.add_argument("--vocoder", choices=("hifigan", "griffin-lim"), default="hifigan", help="default decoder")
    p.add_argument("--seed", type=int, default=0, help="random seed (same audio + seed = same codec)")
    p.add_argument("--device", default=None, help="k-means device (default: cuda when available, else cpu)")
    p.add_argument("--num-threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from valle.codec.fit import fit_builtin_codec
    from valle.codec.loader import default_builtin_path
    from valle.codec.sources import list_audio_files
    from valle.utils import make_parents, set_num_threads

    set_num_threads(args.num_threads)
    files = list_audio_files(args.audio)
    out = args.out or default_builtin_path()
    make_parents(out)
    if args.max_files is not None:
        files = files[: args.max_files]
    codec = fit_builtin_codec(
        files,
        num_codebooks=args.num_codebooks,
        codebook_size=args.codebook_size,
        iterations=args.iterations,
        max_frames=args.max_frames or None,
        seed=args.seed,
        vocoder=args.vocoder,
        device=args.device,
        progress=not args.no_progress,
    )
    out = codec.save(out)
    info = codec.fit_info
    print(f"{out}  ({codec.num_codebooks} x {codec.codebook_size}, {info['audio_minutes']:.1f} min of audio, "
          f"{info['fit_seconds']:.0f} s, hash {codec.identity['content_hash'][:12]})")
    return 0
