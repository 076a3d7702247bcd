"""Helpers for tests and benchmarks of the server: a tiny checkpoint file, and an app run on a free port.

Why here and not under tests/: `bench/serve.py` needs the same tiny checkpoint as the browser test, and a
checkpoint written by one function is the same model in both.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def write_debug_checkpoint(path: str | os.PathLike[str], seed: int = 0, **overrides: Any) -> Path:
    """Save a random-weight VALL-E that `valle serve --checkpoint PATH` can load with no other file.

    It has the "debug" model's character front-end and symbols and the seeded random EnCodec (recorded as
    `random-seed-{seed}` in the codec identity, which `Synthesizer.from_checkpoint` rebuilds).  It speaks noise.

    Args:
        path: the checkpoint file to write.
        seed: seeds the weights and the codec.
        **overrides: `ModelConfig` fields, e.g. `decoder_dim=128, num_decoder_layers=4, nhead=4`.
    """
    import torch

    from valle.codec import random_encodec
    from valle.infer.api import DEBUG_SYMBOLS
    from valle.models import build_model, debug_config, save_checkpoint
    from valle.text import SymbolTable, TextTokenizer

    symbols = SymbolTable.from_symbols(DEBUG_SYMBOLS).symbols
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(debug_config(num_text_tokens=len(symbols) + 3, **overrides))
    tokenizer = TextTokenizer(backend="char", normalize=False).settings()
    codec = random_encodec(seed).identity  # the same hash at any thread count (random_encodec pins one thread)
    return save_checkpoint(path, model, symbols=symbols, tokenizer=tokenizer, codec=codec)


@contextmanager
def live_server(app: Any, start_timeout: float = 20.0) -> Iterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1 (a free port) in a thread; yields its base URL.

    The socket is bound before the thread starts, so the port is known and cannot be taken meanwhile.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"uvicorn did not start within {start_timeout:g} s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for servers started in another process)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
