"""Serving fixtures: the debug model (no files), prompt audio as upload bytes, apps in-process or on a port.

`debug_synthesizer()` builds a 2-layer random VALL-E with a random EnCodec in about a second; it speaks
noise, which is all these tests need.  `max_audio_seconds` keeps its (EOS-less) outputs short.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from valle.serve.testing import live_server  # noqa: F401 - re-exported for the tests

if TYPE_CHECKING:  # the serve extra is imported only by the tests that use it
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

SAMPLE_RATE = 24_000


@pytest.fixture(scope="session")
def synth():
    from valle.infer.api import debug_synthesizer

    return debug_synthesizer()


def prompt_waveform(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """A speech-like test signal: a 150 Hz buzz with noise, amplitude-modulated at 4 Hz (syllable rate)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    rng = np.random.default_rng(seed)
    buzz = np.sign(np.sin(2 * np.pi * 150 * t)) * 0.3 + 0.05 * rng.standard_normal(t.size)
    return (buzz * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def wav_bytes(wav: np.ndarray, rate: int = SAMPLE_RATE, fmt: str = "WAV") -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, wav, rate, format=fmt, subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="session")
def prompt_bytes() -> bytes:
    return wav_bytes(prompt_waveform())


@pytest.fixture
def make_app(synth, tmp_path: Path) -> Callable[..., FastAPI]:
    """`make_app(**config_fields)`: an app around the shared debug model, voices in a fresh folder."""
    from valle.serve import ServeConfig, create_app

    def make(**fields: Any) -> FastAPI:
        fields.setdefault("voices_dir", tmp_path / "voices")
        fields.setdefault("max_audio_seconds", 0.5)
        return create_app(synth, ServeConfig(**fields))

    return make


@pytest.fixture
def client(make_app) -> Iterator[TestClient]:
    """A client of a default app (no auth, batches of 8) with the engine running."""
    from fastapi.testclient import TestClient

    with TestClient(make_app()) as c:
        yield c


def add_voice(client: TestClient, data: bytes, voice_id: str = "alice", transcript: str = "Hello prompt.",
              headers: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Upload a voice through the API and return its JSON (asserting 201)."""
    r = client.post("/v1/voices", files={"file": ("prompt.wav", data, "audio/wav")},
                    data={"transcript": transcript, "id": voice_id}, headers=headers or {})  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()
