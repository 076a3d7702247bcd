"""`POST /v1/audio/speech`: check the request, queue it on the engine, answer audio (whole or streamed).

Everything that can be checked without the model is checked here, before the request takes a queue slot:
text length and emptiness, format, voice id and file, voice codec, sampling options.  What only the model
can tell (symbols its front-end lacks) comes back from the engine as a `ValleError` and becomes a 400.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from valle.serve.audio import (
    MEDIA_TYPES,
    STREAM_FORMATS,
    encode_audio,
    pcm16,
    wav_header,
)
from valle.serve.config import ServeConfig
from valle.serve.engine import SpeechEngine, SpeechJob
from valle.serve.errors import ApiError
from valle.serve.schemas import SpeechRequest
from valle.serve.voices import VoiceStore

logger = logging.getLogger(__name__)

AUDIO_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {t: {} for t in MEDIA_TYPES.values()}, "description": "the speech"}
}


def speech_router(engine: SpeechEngine, store: VoiceStore, config: ServeConfig) -> APIRouter:
    """The speech endpoint, bound to one engine, voice store and config."""
    router = APIRouter()
    request_ids = itertools.count(1)

    @router.post("/audio/speech", response_class=Response, responses=AUDIO_RESPONSE, summary="Speak text")
    async def create_speech(req: SpeechRequest) -> Response:
        """Speak `input` in `voice`; `stream=true` sends each sentence as soon as it is synthesized."""
        _check_request(req, config)
        voice_id = req.voice or config.default_voice
        if voice_id is None:
            raise ApiError(400, "no voice given and the server has no default voice; pass 'voice' "
                                "(GET /v1/voices lists them, POST /v1/voices adds one)", "voice")  # fmt: skip
        voice = await run_in_threadpool(store.get, voice_id)
        engine.check_voice(voice)
        options = engine.options_for(top_k=req.top_k, top_p=req.top_p, temperature=req.temperature, seed=req.seed,
                                     candidates=req.candidates)  # fmt: skip
        job = SpeechJob(req.input, voice, options, name=f"request {next(request_ids)}")
        sr = engine.sample_rate
        if req.stream:
            return await _streaming_response(engine, job, req.response_format)
        wav = await engine.synthesize(job)
        body = await run_in_threadpool(encode_audio, wav, sr, req.response_format)
        headers = {"X-Sample-Rate": str(sr), "X-Audio-Duration": f"{len(wav) / sr:.3f}"}
        return Response(body, media_type=MEDIA_TYPES[req.response_format], headers=headers)

    return router


def _check_request(req: SpeechRequest, config: ServeConfig) -> None:
    if len(req.input) > config.max_input_chars:
        raise ApiError(400, f"input is {len(req.input):,} characters; the limit is {config.max_input_chars:,} "
                            "(send long text in several requests)", "input")  # fmt: skip
    if not req.input.strip():
        raise ApiError(400, "input is empty; give the text to speak", "input")
    if req.speed != 1.0:
        raise ApiError(400, f"speed {req.speed} is not supported; VALL-E speaks at the prompt's pace (use 1.0)",
                       "speed")  # fmt: skip
    if req.stream and req.response_format not in STREAM_FORMATS:
        raise ApiError(400, f"stream=true sends {' or '.join(STREAM_FORMATS)}, not {req.response_format}; "
                            "change response_format or drop stream", "response_format")  # fmt: skip


async def _streaming_response(engine: SpeechEngine, job: SpeechJob, fmt: str) -> StreamingResponse:
    """Wait for the first sentence (so its errors still get a proper status), then stream the rest."""
    chunks = engine.stream(job)
    first = await chunks.__anext__()

    async def body() -> AsyncIterator[bytes]:
        try:
            if fmt == "wav":
                yield wav_header(engine.sample_rate)
            yield pcm16(first)
            async for wav in chunks:
                yield pcm16(wav)
        except Exception as e:  # noqa: BLE001 - headers are sent: all we can do is end the stream and log why
            logger.warning("%s: stream ended early: %s", job.name, e)
        finally:
            await chunks.aclose()

    headers = {"X-Sample-Rate": str(engine.sample_rate), "Cache-Control": "no-store"}
    return StreamingResponse(body(), media_type=MEDIA_TYPES[fmt], headers=headers)
