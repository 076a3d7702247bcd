"""`valle serve`: the HTTP API and web page for a checkpoint (FastAPI + uvicorn).

    valle serve --checkpoint exp/best.pt                       # http://127.0.0.1:8000/  (page), /docs (API)
    valle serve --checkpoint exp/best.pt --host 0.0.0.0 --api-key "$(cat key.txt)" --voices /srv/voices
    valle serve --checkpoint debug --port 8001                 # tiny random model: speaks noise, for trying the API

The key may also come from $VALLE_API_KEY (keeps it out of `ps`).  Needs the `serve` extra:
`pip install -e ".[serve]"`.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from valle.commands.infer import add_draw_arguments

NAME = "serve"
HELP = "serve an OpenAI-shaped speech API, voice uploads and a web page over HTTP"
ENV_API_KEY = "VALLE_API_KEY"

logger = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--checkpoint", required=True, help="checkpoint file or model name ('debug': tiny random model)")
    g.add_argument("--text-tokens", type=Path, default=None, help="unique_text_tokens.k2symbols (lifeiteng/vall-e checkpoints)")
    g.add_argument("--codec", default=None, help="codec spec or file (default: the one the checkpoint records)")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    add_draw_arguments(g, "AR draws per text by default (requests may set their own); > 1 keeps the one the code "
                          "reader reads most plainly (default: the checkpoint's recommendation)")  # fmt: skip
    g.add_argument("--num-threads", type=int, default=1,
                   help="torch CPU threads per stage (model and codec run on their own threads with --overlap-vocoder)")
    h = p.add_argument_group("server")
    h.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: all; then set --api-key)")
    h.add_argument("--port", type=int, default=8000, help="TCP port")
    h.add_argument("--voices", type=Path, default=None, help="voices folder (default ~/.cache/valle/voices)")
    h.add_argument("--default-voice", default=None, help="voice id used when a request names none")
    h.add_argument("--api-key", default=None, help=f"require 'Authorization: Bearer KEY' on /v1 (or set ${ENV_API_KEY})")
    b = p.add_argument_group("batching and limits")
    b.add_argument("--max-batch", type=int, default=8, help="requests decoded together (1: serial handling)")
    b.add_argument("--overlap-vocoder", action=argparse.BooleanOptionalAction, default=True,
                   help="vocode finished requests on a second thread while the model decodes the next batch")
    b.add_argument("--max-wait-ms", type=float, default=25.0, help="how long a request waits for others to batch with")
    b.add_argument("--max-queue", type=int, default=64, help="waiting requests before answering 503 + Retry-After")
    b.add_argument("--request-timeout", type=float, default=120.0, help="seconds until a request gets 504")
    b.add_argument("--max-input-chars", type=int, default=4096, help="longest text per request")
    b.add_argument("--max-upload-mb", type=float, default=10.0, help="largest voice upload in MiB")
    b.add_argument("--max-prompt-seconds", type=float, default=30.0, help="longest voice recording accepted")
    b.add_argument("--max-audio-seconds", type=float, default=None,
                   help="cap on the audio of one sentence (default: the model's 16 frames per text token)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from valle.errors import InvalidInputError, MissingDependencyError
    from valle.infer.voice import default_voice_dir

    try:
        import uvicorn

        from valle.serve import ServeConfig, create_app
        from valle.serve.config import MIB
    except ImportError as e:
        raise MissingDependencyError(
            f"valle serve needs {e.name or 'fastapi/uvicorn'}; install the serve extra: pip install -e '.[serve]'"
        ) from None
    if args.candidates is not None and args.candidates < 1:
        raise InvalidInputError(f"--candidates must be >= 1 draw per text, got {args.candidates}")
    if not 0 < args.port < 65536:
        raise InvalidInputError(f"--port must be 1-65535, got {args.port}")
    config = ServeConfig(
        voices_dir=args.voices or default_voice_dir(),
        api_key=args.api_key or os.environ.get(ENV_API_KEY) or None,
        default_voice=args.default_voice,
        model_name=Path(args.checkpoint).stem,
        max_batch=args.max_batch, overlap_vocoder=args.overlap_vocoder, max_wait_ms=args.max_wait_ms, max_queue=args.max_queue,
        request_timeout=args.request_timeout, max_input_chars=args.max_input_chars,
        max_upload_bytes=int(args.max_upload_mb * MIB), max_prompt_seconds=args.max_prompt_seconds,
        max_audio_seconds=args.max_audio_seconds,
    )  # fmt: skip
    config.verify()  # before loading a model that may take seconds
    _check_can_listen(args.host, args.port)
    _check_default_voice(config.default_voice, Path(config.voices_dir))
    app = create_app(_load(args), config)
    if config.api_key is None and args.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("listening on %s without --api-key: anyone who can reach it can use the model", args.host)
    logger.info("serving %s on http://%s:%d/ (voices in %s)", args.checkpoint, args.host, args.port, config.voices_dir)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning" if args.quiet else "info")
    return 0


def _check_can_listen(host: str, port: int) -> None:
    """Bind the address once before loading the model: uvicorn reports a port in use as a log line and exit 3."""
    import socket

    from valle.errors import InvalidInputError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise InvalidInputError(f"--host {host}: {e.strerror}; give an IP address or a name this machine resolves")
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: only a live listener conflicts
        try:
            s.bind(address)
        except OSError as e:
            raise InvalidInputError(
                f"cannot listen on {host}:{port} ({e.strerror}); choose another --port, or stop what listens there"
            ) from None


def _check_default_voice(voice_id: str | None, voices_dir: Path) -> None:
    """A warning, not an error: the voice may be uploaded once the server runs (POST /v1/voices)."""
    from valle.infer.voice import voice_path
    from valle.serve.voices import check_voice_id

    if voice_id is not None and not voice_path(check_voice_id(voice_id), voices_dir).is_file():
        logger.warning("--default-voice %s is not in %s yet: requests that name no voice get 404 until it is added "
                       "(valle make-voice --voice-dir, or POST /v1/voices)", voice_id, voices_dir)  # fmt: skip


def _load(args: argparse.Namespace):
    from valle.infer import load_model
    from valle.utils import resolve_device, set_num_threads

    set_num_threads(args.num_threads)
    synth = load_model(args.checkpoint, resolve_device(args.device), codec=args.codec, text_tokens=args.text_tokens,
                       reader=args.reader)  # fmt: skip
    if args.candidates is not None:
        synth.options = synth.options.with_changes(candidates=args.candidates)
    synth.require_reader(synth.options)  # at start, not on the first request
    return synth
