"""The engine under pressure: a full queue (503 + Retry-After), timeouts (504), a bad job inside a batch."""

from __future__ import annotations

import time

import numpy as np
import pytest

from valle.errors import InvalidInputError

from .conftest import add_voice

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

from fastapi.testclient import TestClient

from valle.serve.engine import SpeechJob

SPEECH = {"input": "Hello there.", "voice": "alice"}


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_full_queue_answers_503_with_retry_after(make_app, prompt_bytes: bytes) -> None:
    app = make_app(max_batch=1, max_queue=1)
    engine = app.state.engine
    with TestClient(app) as c:
        add_voice(c, prompt_bytes)
        job = SpeechJob("Hi.", app.state.voices.get("alice"), engine.options)
        with engine.lock:  # the worker takes the first job, then blocks on the model lock
            running = engine.submit(job)
            wait_until(lambda: engine.batcher.waiting == 0)
            queued = engine.submit(job)  # fills the queue (max_queue=1)
            r = c.post("/v1/audio/speech", json=SPEECH)
            assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
            assert "busy" in r.json()["error"]["message"]
        assert running.result(30).size > 0 and queued.result(30).size > 0
        assert c.post("/v1/audio/speech", json=SPEECH).status_code == 200
        assert c.get("/healthz").json()["batching"]["rejected"] == 1


def test_a_request_past_its_timeout_gets_504_and_is_not_decoded(make_app, prompt_bytes: bytes) -> None:
    app = make_app(max_batch=1, request_timeout=0.3)
    engine = app.state.engine
    with TestClient(app) as c:
        add_voice(c, prompt_bytes)
        with engine.lock:
            busy = engine.submit(SpeechJob("Hi.", app.state.voices.get("alice"), engine.options))
            wait_until(lambda: engine.batcher.waiting == 0)
            start = time.monotonic()
            r = c.post("/v1/audio/speech", json=SPEECH)
            assert r.status_code == 504 and "within 0.3 s" in r.json()["error"]["message"]
            assert 0.25 < time.monotonic() - start < 5
        busy.result(30)
        wait_until(lambda: engine.batcher.stats.cancelled == 1)  # dropped from the queue, never decoded
        assert c.post("/v1/audio/speech", json=SPEECH).status_code == 200


def test_a_bad_job_fails_alone_and_its_batch_mates_get_their_audio(make_app, prompt_bytes: bytes) -> None:
    app = make_app(max_batch=8, max_wait_ms=500)
    engine = app.state.engine
    with TestClient(app) as c:
        add_voice(c, prompt_bytes)
        voice = app.state.voices.get("alice")
        options = engine.options_for(seed=7)
        texts = ["Hello there.", "Snow \u2603 man.", "Good night."]
        futures = [engine.submit(SpeechJob(t, voice, options)) for t in texts]
        with pytest.raises(InvalidInputError, match="lacks"):
            futures[1].result(30)
        good = [futures[0].result(30), futures[2].result(30)]
        assert engine.batcher.stats.sizes == {3: 1}  # the three travelled as one batch
        alone = engine.submit(SpeechJob("Hello there.", voice, options)).result(30)
        assert np.array_equal(good[0], alone)  # the retry gave exactly what a lone request gets
        assert good[1].size > 0


def test_a_crash_inside_the_model_is_a_500_and_the_next_request_works(make_app, prompt_bytes: bytes, synth,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    app = make_app()
    real = synth.synthesize_batch
    calls = []

    def crash_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("simulated bug")
        return real(*args, **kwargs)

    with TestClient(app) as c:
        add_voice(c, prompt_bytes)
        monkeypatch.setattr(synth, "synthesize_batch", crash_once)
        r = c.post("/v1/audio/speech", json=SPEECH)
        assert r.status_code == 500 and "RuntimeError" in r.json()["error"]["message"]
        assert "simulated bug" not in r.text  # internals stay in the server log
        assert c.post("/v1/audio/speech", json=SPEECH).status_code == 200


def test_an_uploaded_voice_is_what_make_voice_makes_from_the_same_file(client: TestClient, synth, prompt_bytes: bytes,
                                                                        tmp_path) -> None:  # fmt: skip
    add_voice(client, prompt_bytes, "same", "Hello prompt.")
    stored = client.app.state.voices.get("same")
    path = tmp_path / "prompt.wav"
    path.write_bytes(prompt_bytes)
    direct = synth.make_voice(str(path), "Hello prompt.")
    assert np.array_equal(stored.codes.numpy(), direct.codes.numpy())
    assert stored.tokens == direct.tokens and stored.text == direct.text
