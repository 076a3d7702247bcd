"""`valle codec-info`: print a codec's identity, or encode/decode a file through it (round trip)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "codec-info"
HELP = "show a codec's identity (and optionally round-trip an audio file through it)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--codec", default=None,
                   help="codec spec: 'encodec', 'builtin:FILE', a codec file (default: the configured default)")
    p.add_argument("--vocoder", choices=("hifigan", "griffin-lim"), default=None, help="built-in codec decoder")
    p.add_argument("--roundtrip", type=Path, nargs=2, metavar=("IN_WAV", "OUT_WAV"),
                   help="encode IN_WAV and write the decoded audio to OUT_WAV (24 kHz)")
    p.add_argument("--num-codebooks", type=int, default=None, help="decode with only the first N codebooks")
    p.add_argument("--num-threads", type=int, default=1, help="torch CPU threads")


def run(args: argparse.Namespace) -> int:
    from valle.codec import load_audio, load_codec
    from valle.errors import InvalidInputError
    from valle.utils import atomic_write, set_num_threads

    set_num_threads(args.num_threads)
    codec = load_codec(args.codec, vocoder=args.vocoder)
    ident = {k: v for k, v in codec.identity.items()}
    ident["bitrate_bps"] = codec.bitrate
    print(json.dumps(ident, indent=2))
    if args.roundtrip:
        import soundfile as sf

        src, dst = args.roundtrip
        n = codec.num_codebooks if args.num_codebooks is None else args.num_codebooks  # 0 is not "all"
        if not 1 <= n <= codec.num_codebooks:
            raise InvalidInputError(f"--num-codebooks must be 1..{codec.num_codebooks}, got {n}")
        wav, sr = load_audio(src)
        codes = codec.encode(wav[None])  # [1, Q, F]
        out = codec.decode(codes[:, :n])[0, : wav.numel()]
        with atomic_write(dst) as tmp:
            sf.write(str(tmp), out.numpy(), sr, subtype="PCM_16", format="WAV")
        print(f"{src} -> {tuple(codes.shape)} codes -> {dst}")
    return 0
