"""Every malformed request gets a JSON 4xx naming the problem, and the server keeps serving afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import add_voice, prompt_waveform, wav_bytes

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

from fastapi.testclient import TestClient

JSON = {"content-type": "application/json"}

# (description, request kwargs for client.post("/v1/audio/speech"), expected status, words the message must hold)
BAD_SPEECH: list[tuple[str, dict[str, Any], int, str]] = [
    ("bad JSON", {"content": b'{"input": "hi",', "headers": JSON}, 400, "not valid JSON"),
    ("JSON array", {"json": ["hi"]}, 400, "JSON object"),
    ("no body", {"headers": JSON}, 400, "required"),
    ("missing input", {"json": {"voice": "alice"}}, 400, "'input' is required"),
    ("empty input", {"json": {"input": "", "voice": "alice"}}, 400, "input is empty"),
    ("blank input", {"json": {"input": " \n\t ", "voice": "alice"}}, 400, "input is empty"),
    ("5,000-character input", {"json": {"input": "a" * 5_000, "voice": "alice"}}, 400, "the limit is 4,096"),
    ("1 MB input", {"json": {"input": "a" * 1_000_000, "voice": "alice"}}, 413, "accepts at most 131,072 bytes"),
    ("input not a string", {"json": {"input": 5, "voice": "alice"}}, 400, "'input'"),
    ("unknown voice", {"json": {"input": "hi", "voice": "nobody"}}, 404, "no voice 'nobody'"),
    ("../ voice id", {"json": {"input": "hi", "voice": "../../etc/passwd"}}, 400, "not allowed"),
    ("dot voice id", {"json": {"input": "hi", "voice": ".."}}, 400, "not allowed"),
    ("unknown format", {"json": {"input": "hi", "voice": "alice", "response_format": "mp3"}}, 400, "'wav', 'flac' or 'pcm'"),
    ("typo field", {"json": {"input": "hi", "voice": "alice", "temprature": 0.5}}, 400, "unknown field 'temprature'"),
    ("zero temperature", {"json": {"input": "hi", "voice": "alice", "temperature": 0}}, 400, "temperature"),
    ("top_p above 1", {"json": {"input": "hi", "voice": "alice", "top_p": 1.5}}, 400, "top_p"),
    ("NaN temperature", {"content": b'{"input": "hi", "voice": "alice", "temperature": NaN}', "headers": JSON}, 400,
     "field 'temperature': Input should be a finite number"),
    ("infinite top_p", {"content": b'{"input": "hi", "voice": "alice", "top_p": Infinity}', "headers": JSON}, 400,
     "field 'top_p': Input should be a finite number"),
    ("negative seed", {"json": {"input": "hi", "voice": "alice", "seed": -1}}, 400, "seed"),
    ("zero candidates", {"json": {"input": "hi", "voice": "alice", "candidates": 0}}, 400, "candidates"),
    ("17 candidates", {"json": {"input": "hi", "voice": "alice", "candidates": 17}}, 400, "candidates"),
    ("draws with no reader for the codec", {"json": {"input": "hi", "voice": "alice", "candidates": 2}}, 400,
     "reads another codec's codes than this model's"),
    ("speed", {"json": {"input": "hi", "voice": "alice", "speed": 1.5}}, 400, "speed 1.5 is not supported"),
    ("symbols the model lacks", {"json": {"input": "日本語 ☃", "voice": "alice"}}, 400, "symbol table lacks"),
]


@pytest.fixture
def served(make_app, prompt_bytes: bytes):
    """A client with voice 'alice' and a tight body limit (64 KiB upload + slack)."""
    with TestClient(make_app(max_upload_bytes=64 * 1024, max_prompt_seconds=2.0)) as c:
        add_voice(c, prompt_bytes)
        yield c


def assert_error(r, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert words in error["message"], error
    assert "Traceback" not in error["message"] and "\n" not in error["message"]


def assert_still_serving(client: TestClient) -> None:
    r = client.post("/v1/audio/speech", json={"input": "Still here.", "voice": "alice"})
    assert r.status_code == 200 and r.content[:4] == b"RIFF"


def test_malformed_speech_requests_each_get_a_4xx_and_the_server_keeps_serving(served: TestClient) -> None:
    for what, kwargs, status, words in BAD_SPEECH:
        r = served.post("/v1/audio/speech", **kwargs)
        try:
            assert_error(r, status, words)
        except AssertionError as e:
            raise AssertionError(f"{what}: {e}") from None
    assert_still_serving(served)
    assert served.get("/healthz").json()["status"] == "ok"


def test_a_body_over_the_limit_is_refused_with_413(served: TestClient) -> None:
    big = json.dumps({"input": "a" * 200_000, "voice": "alice"}).encode()
    assert_error(served.post("/v1/audio/speech", content=big, headers=JSON), 413, "at most")

    def chunks():
        for _ in range(50):
            yield b"x" * 10_000

    assert_error(served.post("/v1/audio/speech", content=chunks(), headers=JSON), 413, "at most")
    assert_still_serving(served)


BAD_UPLOADS: list[tuple[str, dict[str, Any], dict[str, Any], int, str]] = [
    ("corrupt wav", {"file": ("v.wav", b"RIFF\x10\x00\x00\x00WAVEgarbage!", "audio/wav")}, {"transcript": "Hi."}, 400,
     "cannot read uploaded file 'v.wav'"),
    ("text file", {"file": ("v.wav", b"hello, this is not audio at all" * 10, "audio/wav")}, {"transcript": "Hi."}, 400,
     "cannot read"),
    ("empty file", {"file": ("v.wav", b"", "audio/wav")}, {"transcript": "Hi."}, 400, "is empty"),
    ("silent wav", {"file": ("v.wav", wav_bytes(0 * prompt_waveform()), "audio/wav")}, {"transcript": "Hi."}, 400,
     "silence"),
    ("too long", {"file": ("v.wav", wav_bytes(prompt_waveform(2.5)[::3], 8000), "audio/wav")}, {"transcript": "Hi."}, 400,
     "at most 2 s"),
    ("too big", {"file": ("v.flac", b"\x00" * 70_000, "audio/flac")}, {"transcript": "Hi."}, 413, "bytes"),
    ("no file", {}, {"transcript": "Hi."}, 400, "'file' is required"),
    ("no transcript", {"file": ("v.wav", wav_bytes(prompt_waveform()), "audio/wav")}, {}, 400,
     "'transcript' is required"),
    ("blank transcript", {"file": ("v.wav", wav_bytes(prompt_waveform()), "audio/wav")}, {"transcript": "  "}, 400,
     "transcript is empty"),
    ("../ id", {"file": ("v.wav", wav_bytes(prompt_waveform()), "audio/wav")}, {"transcript": "Hi.", "id": "../x"},
     400, "not allowed"),
    ("taken id", {"file": ("v.wav", wav_bytes(prompt_waveform()), "audio/wav")}, {"transcript": "Hi.", "id": "alice"},
     409, "exists already"),
    ("unknown symbols", {"file": ("v.wav", wav_bytes(prompt_waveform()), "audio/wav")}, {"transcript": "☃☃"}, 400,
     "lacks"),
]


def test_malformed_uploads_each_get_a_4xx_and_write_nothing(served: TestClient, make_app) -> None:
    root = served.app.state.voices.root
    before = sorted(p.name for p in root.iterdir())
    for what, files, data, status, words in BAD_UPLOADS:
        r = served.post("/v1/voices", files=files, data=data)
        try:
            assert_error(r, status, words)
        except AssertionError as e:
            raise AssertionError(f"{what}: {e}") from None
    assert sorted(p.name for p in root.iterdir()) == before
    assert not list(root.parent.glob("x.voice.pt"))  # the ../x upload wrote nothing above the folder
    assert_still_serving(served)


def test_voice_paths_cannot_leave_the_folder(served: TestClient) -> None:
    for path in ["/v1/voices/..", "/v1/voices/.alice", "/v1/voices/%2e%2e%2fsecret", "/v1/voices/a%5Cb"]:
        assert 400 <= served.get(path).status_code < 500
        assert 400 <= served.delete(path).status_code < 500
    assert served.get("/v1/voices/alice").status_code == 200


def test_unknown_routes_and_methods_are_json_4xx(served: TestClient) -> None:
    assert_error(served.get("/v1/nothing"), 404, "no such endpoint")
    assert_error(served.get("/v1/audio/speech"), 405, "not allowed")
    assert_error(served.put("/v1/voices/alice"), 405, "not allowed")
