"""`/v1/voices`: upload a prompt recording with its transcript to make a voice; list, show and delete voices.

An upload is checked in order of cost: id and transcript first, then the byte size, then decoding the
audio, then its duration, and only then the codec encodes it (under the model lock, see `SpeechEngine`).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from valle.serve.audio import read_upload
from valle.serve.config import ServeConfig
from valle.serve.engine import SpeechEngine
from valle.serve.errors import ApiError
from valle.serve.voices import VoiceExistsError, VoiceStore


def voice_router(engine: SpeechEngine, store: VoiceStore, config: ServeConfig) -> APIRouter:
    """The voice endpoints, bound to one engine, voice store and config."""
    router = APIRouter()

    @router.get("/voices", summary="List voices")
    async def list_voices() -> dict[str, Any]:
        infos = await run_in_threadpool(store.list)
        return {"object": "list", "data": [i.as_dict() for i in infos]}

    @router.get("/voices/{voice_id}", summary="Show one voice")
    async def get_voice(voice_id: str) -> dict[str, Any]:
        return (await run_in_threadpool(store.info, voice_id)).as_dict()

    @router.delete("/voices/{voice_id}", summary="Delete a voice")
    async def delete_voice(voice_id: str) -> dict[str, Any]:
        await run_in_threadpool(store.delete, voice_id)
        return {"id": voice_id, "object": "voice", "deleted": True}

    @router.post("/voices", status_code=201, summary="Make a voice from a recording and its transcript")
    async def create_voice(
        file: Annotated[UploadFile, File(description="the prompt recording (wav, flac or ogg; 3-10 s is typical)")],
        transcript: Annotated[str, Form(description="the words spoken in the recording")],
        id: Annotated[str | None, Form(description="voice id (letters, digits, - and _); default: a random one")] = None,
    ) -> JSONResponse:
        voice_id = id or f"voice-{secrets.token_hex(4)}"
        path = store.path(voice_id)  # 400 for an unsafe id, before reading anything
        if path.exists():
            raise VoiceExistsError(f"voice {voice_id!r} exists already; delete it first or choose another id")
        text = transcript.strip()
        if not text:
            raise ApiError(400, "transcript is empty; give the words spoken in the recording", "transcript")
        if len(text) > config.max_input_chars:
            raise ApiError(400, f"transcript is {len(text):,} characters; the limit is {config.max_input_chars:,}",
                           "transcript")  # fmt: skip
        data = await file.read(config.max_upload_bytes + 1)
        if len(data) > config.max_upload_bytes:
            raise ApiError(413, f"the uploaded file is over {config.max_upload_bytes:,} bytes; upload a shorter "
                                "recording (a few seconds are enough)", "file")  # fmt: skip
        wav, rate = await run_in_threadpool(read_upload, data, f"uploaded file {file.filename or 'file'!r}")
        seconds = wav.shape[0] / rate
        if seconds > config.max_prompt_seconds:
            raise ApiError(400, f"the recording is {seconds:.1f} s; voices take at most {config.max_prompt_seconds:g} s "
                                "(3-10 s of clean speech work best)", "file")  # fmt: skip
        voice = await run_in_threadpool(engine.make_voice, wav, rate, text, voice_id)
        info = await run_in_threadpool(store.add, voice_id, voice)
        return JSONResponse(info.as_dict(), status_code=201)

    return router
