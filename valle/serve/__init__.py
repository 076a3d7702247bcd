"""valle.serve: the HTTP API (`valle serve`), its micro-batching engine and the web page.

    from valle.infer import load_model
    from valle.serve import ServeConfig, create_app
    app = create_app(load_model("exp/best.pt"), ServeConfig(voices_dir=Path("voices")))
    # uvicorn.run(app, host="127.0.0.1", port=8000)

Needs the `serve` extra (fastapi, uvicorn, python-multipart).  Names are imported on first use, so
`import valle.serve` works without them until the app is built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from valle.serve.app import create_app
    from valle.serve.batcher import MicroBatcher, QueueFullError
    from valle.serve.config import ServeConfig
    from valle.serve.engine import SpeechEngine, SpeechJob
    from valle.serve.voices import VoiceStore

_EXPORTS = {
    "create_app": "valle.serve.app",
    "MicroBatcher": "valle.serve.batcher",
    "QueueFullError": "valle.serve.batcher",
    "ServeConfig": "valle.serve.config",
    "SpeechEngine": "valle.serve.engine",
    "SpeechJob": "valle.serve.engine",
    "VoiceStore": "valle.serve.voices",
}

__all__ = ["MicroBatcher", "QueueFullError", "ServeConfig", "SpeechEngine", "SpeechJob", "VoiceStore", "create_app"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'valle.serve' has no attribute {name!r}")
