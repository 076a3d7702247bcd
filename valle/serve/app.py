"""`create_app(synth, config)`: the FastAPI application of `valle serve`.

    GET  /                      the web page (static/index.html: type, pick or upload a voice, listen)
    GET  /docs, /openapi.json   the API description (an offline page; FastAPI's Swagger UI needs a CDN)
    GET  /healthz               liveness, limits and batching counters (no auth)
    POST /v1/audio/speech       OpenAI-shaped text-to-speech, whole or streamed
    GET|POST /v1/voices, GET|DELETE /v1/voices/{id}

Everything under /v1 needs `Authorization: Bearer KEY` when `config.api_key` is set.  The engine's
worker thread starts and stops with the application (its lifespan), so an app that is never run holds no
thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from valle import __version__
from valle.infer.synthesizer import Synthesizer
from valle.serve.config import ServeConfig
from valle.serve.engine import SpeechEngine
from valle.serve.errors import install_error_handlers
from valle.serve.guards import BearerAuth, BodySizeLimit
from valle.serve.speech import speech_router
from valle.serve.voice_routes import voice_router
from valle.serve.voices import VoiceStore

STATIC = Path(__file__).with_name("static")


def create_app(synth: Synthesizer, config: ServeConfig) -> FastAPI:
    """Build the application around a loaded `Synthesizer`.

    Args:
        synth: the model every request is spoken with.
        config: limits, batching, voices folder and API key (checked here).

    Returns:
        The app; `app.state.engine` and `app.state.voices` give access to its engine and voice store.
    """
    config.verify()
    engine = SpeechEngine(synth, config)
    store = VoiceStore(config.voices_dir)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        engine.start()
        try:
            yield
        finally:
            engine.stop()

    app = FastAPI(
        title="valle",
        version=__version__,
        description="VALL-E zero-shot text-to-speech: OpenAI-shaped speech endpoint, voices from a short recording.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.voices = store
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=config.max_body_bytes)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(BearerAuth(config.api_key))])
    v1.include_router(speech_router(engine, store, config))
    v1.include_router(voice_router(engine, store, config))
    app.include_router(v1)

    @app.get("/healthz", summary="Liveness, limits and batching counters")
    async def healthz() -> dict[str, Any]:
        return {
            "status": "ok" if engine.batcher.running else "stopped",
            "model": config.model_name,
            "sample_rate": engine.sample_rate,
            "auth_required": config.api_key is not None,
            "default_voice": config.default_voice,
            "limits": {
                "max_input_chars": config.max_input_chars,
                "max_upload_bytes": config.max_upload_bytes,
                "max_prompt_seconds": config.max_prompt_seconds,
                "max_audio_seconds": config.max_audio_seconds,
                "request_timeout": config.request_timeout,
                "max_queue": config.max_queue,
            },
            "batching": {
                "max_batch": config.max_batch,
                "max_wait_ms": config.max_wait_ms,
                "waiting": engine.batcher.waiting,
                **engine.batcher.stats.as_dict(),
            },
        }

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
