"""Request bodies of the HTTP API (pydantic), which FastAPI also turns into the OpenAPI schema at /openapi.json."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_SEED = 2**63 - 1  # torch generators take 64-bit seeds
MAX_CANDIDATES = 16  # each draw is a row of the AR batch: more would let one request crowd out the rest


class SpeechRequest(BaseModel):
    """`POST /v1/audio/speech`: OpenAI's text-to-speech request plus VALL-E's sampling fields.

    Unknown fields are refused (a typo such as `temprature` must not be silently ignored).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"input": "Hello there. How are you today?", "voice": "alice", "top_k": 50}]},
    )

    model: str = Field("valle", description="accepted for OpenAI compatibility; the server speaks with the model it loaded")
    input: str = Field(..., description="the text to speak; long text is split into sentences")
    voice: str | None = Field(None, description="id of a saved voice (GET /v1/voices); None = the server's default voice")
    response_format: Literal["wav", "flac", "pcm"] = Field(
        "wav", description="wav / flac: 16-bit mono files; pcm: raw 16-bit little-endian mono samples"
    )
    stream: bool = Field(False, description="send the audio sentence by sentence as each is ready (wav or pcm)")
    speed: float = Field(1.0, description="OpenAI's playback speed; only 1.0 is supported")
    top_k: int | None = Field(None, description="sample among the k most likely codes (<= 0: off, 1: greedy)")
    top_p: float | None = Field(None, gt=0.0, le=1.0, allow_inf_nan=False, description="nucleus sampling threshold (1.0: off)")
    temperature: float | None = Field(None, gt=0.0, le=10.0, allow_inf_nan=False, description="sampling temperature (> 0)")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="same seed and text: same audio")
    candidates: int | None = Field(
        None, ge=1, le=MAX_CANDIDATES,
        description="AR draws per sentence; > 1 keeps the one the code reader reads most plainly (1: one draw)",
    )  # fmt: skip
