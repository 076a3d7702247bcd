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

from valle.serve.engine import SpeechJob, SynthesisFailedError

SPEECH = {"input": "Hello there.", "voice": "alice"}


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def crash_first_call(real, message: str):
    """`real`, except that its first call raises RuntimeError(message) (a bug inside the model or codec)."""
    calls = []

    def crash_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(message)
        return real(*args, **kwargs)

    return crash_once


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
            assert time.monotonic() - start > 0.25  # no upper bound: the held lock means only the timeout can answer
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
    with TestClient(app) as c:
        add_voice(c, prompt_bytes)
        monkeypatch.setattr(synth, "decode_requests", crash_first_call(synth.decode_requests, "simulated bug"))
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


@pytest.mark.parametrize("overlap", [True, False])
def test_a_crash_in_the_codec_is_a_500_for_that_job_only(make_app, prompt_bytes: bytes, synth, overlap: bool,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    app = make_app(overlap_vocoder=overlap, max_wait_ms=500)
    with TestClient(app) as c:
        add_voice(c, prompt_bytes)
        monkeypatch.setattr(synth, "render", crash_first_call(synth.render, "simulated codec bug"))
        r = c.post("/v1/audio/speech", json=SPEECH)
        assert r.status_code == 500 and "RuntimeError" in r.json()["error"]["message"]
        assert "simulated codec bug" not in r.text
        assert c.post("/v1/audio/speech", json=SPEECH).status_code == 200
        # inside a batch, only the job whose audio failed fails
        monkeypatch.setattr(synth, "render", crash_first_call(synth.render, "simulated codec bug"))
        voice, engine = app.state.voices.get("alice"), app.state.engine
        futures = [engine.submit(SpeechJob(t, voice, engine.options)) for t in ("One.", "Two.")]
        with pytest.raises(SynthesisFailedError):
            futures[0].result(30)
        assert futures[1].result(30).size > 0
        assert engine.batcher.stats.sizes[2] == 1  # the two travelled as one batch


@pytest.mark.parametrize("nar_temperature", [0.0, 0.5], ids=["codes", "expected-frames"])
def test_overlapped_vocoding_gives_the_audio_of_the_one_thread_path(make_app, prompt_bytes: bytes,
                                                                    tmp_path, nar_temperature: float) -> None:  # fmt: skip
    """The vocoder thread changes when audio is made, never what: same jobs, same samples, either way (codes or
    expected NAR frames)."""
    outs = {}
    for overlap in (True, False):
        app = make_app(max_batch=8, max_wait_ms=300, overlap_vocoder=overlap, voices_dir=tmp_path / f"v{overlap}")
        engine = app.state.engine
        with TestClient(app) as c:
            add_voice(c, prompt_bytes)
            voice = app.state.voices.get("alice")
            options = engine.options_for(seed=3, top_k=5, nar_temperature=nar_temperature)
            futures = [engine.submit(SpeechJob(t, voice, options)) for t in ("Hello there.", "Good night. Sleep well.")]
            outs[overlap] = [f.result(30) for f in futures]
            assert (engine._vocoder is not None) == overlap
            assert engine.batcher.stats.sizes == {2: 1}
    for a, b in zip(outs[True], outs[False]):
        assert a.size > 0 and np.array_equal(a, b)


def test_the_model_decodes_the_next_batch_while_the_vocoder_works(make_app, prompt_bytes: bytes, synth,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """With the codec held up, a second batch still gets decoded: the two stages run at the same time."""
    import threading

    app = make_app(max_batch=1)
    engine = app.state.engine
    release, decoded = threading.Event(), []
    real_render, real_decode = synth.render, synth.decode_requests

    def slow_render(*args, **kwargs):
        release.wait(30)
        return real_render(*args, **kwargs)

    def counting_decode(*args, **kwargs):
        out = real_decode(*args, **kwargs)
        decoded.append(1)
        return out

    with TestClient(app) as c:
        add_voice(c, prompt_bytes)
        monkeypatch.setattr(synth, "render", slow_render)
        monkeypatch.setattr(synth, "decode_requests", counting_decode)
        voice = app.state.voices.get("alice")
        futures = [engine.submit(SpeechJob(t, voice, engine.options)) for t in ("One.", "Two.")]
        wait_until(lambda: len(decoded) == 2)  # both decoded while the first is still being vocoded
        assert not any(f.done() for f in futures)
        release.set()
        assert all(f.result(30).size > 0 for f in futures)
