"""The HTTP API in-process (TestClient): speech in every format, streaming, voices, auth, page and docs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from valle.infer.options import SynthesisOptions
from valle.infer.synthesizer import Synthesizer

from .conftest import add_voice

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

from fastapi.testclient import TestClient

THREE_SENTENCES = "Hello there. How are you? Fine, thanks."


def decode(data: bytes) -> tuple[np.ndarray, int]:
    wav, rate = sf.read(io.BytesIO(data), dtype="float32")
    return wav, rate


def zero_runs(wav: np.ndarray, min_length: int) -> int:
    """Number of runs of exact zeros at least `min_length` samples long (the pauses between sentences)."""
    padded = np.concatenate([[1.0], wav, [1.0]]) != 0
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))  # starts and ends of zero runs, alternating
    return int(np.sum(edges[1::2] - edges[::2] >= min_length))


def test_healthz_reports_model_limits_and_batching(client: TestClient) -> None:
    h = client.get("/healthz").json()
    assert h["status"] == "ok" and h["sample_rate"] == 24_000 and h["auth_required"] is False
    assert h["limits"]["max_input_chars"] == 4096 and h["batching"]["max_batch"] == 8


def test_voice_upload_list_show_delete(client: TestClient, prompt_bytes: bytes) -> None:
    made = add_voice(client, prompt_bytes, "alice", "Hello prompt.")
    assert made["id"] == "alice" and made["transcript"] == "Hello prompt." and made["duration_s"] == pytest.approx(1.0)
    assert [v["id"] for v in client.get("/v1/voices").json()["data"]] == ["alice"]
    assert client.get("/v1/voices/alice").json()["transcript"] == "Hello prompt."
    again = client.post("/v1/voices", files={"file": ("p.wav", prompt_bytes)}, data={"transcript": "x", "id": "alice"})
    assert again.status_code == 409 and "exists already" in again.json()["error"]["message"]
    assert client.delete("/v1/voices/alice").json() == {"id": "alice", "object": "voice", "deleted": True}
    assert client.get("/v1/voices/alice").status_code == 404
    assert client.delete("/v1/voices/alice").status_code == 404
    assert client.get("/v1/voices").json()["data"] == []


def test_upload_without_id_gets_a_fresh_one(client: TestClient, prompt_bytes: bytes) -> None:
    r = client.post("/v1/voices", files={"file": ("p.wav", prompt_bytes)}, data={"transcript": "Hi."})
    assert r.status_code == 201 and r.json()["id"].startswith("voice-")


def test_speech_formats_carry_the_same_samples(client: TestClient, prompt_bytes: bytes) -> None:
    add_voice(client, prompt_bytes)
    body = {"input": "Hello there.", "voice": "alice", "seed": 3, "top_k": 20}
    r = client.post("/v1/audio/speech", json={**body, "response_format": "wav"})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    wav, rate = decode(r.content)
    assert rate == 24_000 and wav.ndim == 1 and 0 < wav.size <= 38 * 320  # max_audio_seconds=0.5: 38 frames
    assert float(r.headers["x-audio-duration"]) == pytest.approx(wav.size / 24_000, abs=1e-3)
    assert np.abs(wav).max() > 0.001  # the debug model speaks noise, not silence
    flac, rate = decode(client.post("/v1/audio/speech", json={**body, "response_format": "flac"}).content)
    pcm = client.post("/v1/audio/speech", json={**body, "response_format": "pcm"})
    assert pcm.headers["content-type"] == "audio/pcm"
    assert np.array_equal(flac, wav)  # same seed, same audio; flac is lossless at 16 bits
    assert np.array_equal(np.frombuffer(pcm.content, "<i2") / 32768.0, wav)


def test_a_request_sets_its_draws_and_gets_the_one_the_reader_keeps(tmp_path: Path, prompt_bytes: bytes) -> None:
    import torch

    from valle.infer.api import debug_synthesizer
    from valle.infer.sampling import candidate_seed
    from valle.models.code_reader import CodeReader, CodeReaderConfig, save_reader
    from valle.serve import ServeConfig, create_app

    probe = debug_synthesizer()
    reader = CodeReader(CodeReaderConfig(vocab=probe.collater().idx2token, dim=8))
    save_reader(reader, tmp_path / "reader.pt", probe.codec.identity, {})
    synth = debug_synthesizer(reader=tmp_path / "reader.pt")
    app = create_app(synth, ServeConfig(voices_dir=tmp_path / "voices", max_audio_seconds=0.5))
    with TestClient(app) as c:
        add_voice(c, prompt_bytes)
        body = {"input": "Hello there.", "voice": "alice", "response_format": "pcm"}
        alone = [c.post("/v1/audio/speech", json={**body, "seed": candidate_seed(3, k)}).content for k in range(2)]
        assert alone[0] != alone[1]
        for pick in range(2):  # force the reader's scores: the draw it scores lowest is the answer
            scores = torch.full((2,), 5.0)
            scores[pick] = 1.0
            synth.code_reader().ctc_loss = lambda *args, s=scores: s  # type: ignore[method-assign]
            r = c.post("/v1/audio/speech", json={**body, "seed": 3, "candidates": 2})
            assert r.status_code == 200 and r.content == alone[pick]


def test_default_voice_is_used_when_none_is_named(make_app, prompt_bytes: bytes) -> None:
    with TestClient(make_app(default_voice="alice")) as c:
        add_voice(c, prompt_bytes)
        assert c.post("/v1/audio/speech", json={"input": "Hi."}).status_code == 200
    with TestClient(make_app()) as c:  # same voices folder, but no default voice
        r = c.post("/v1/audio/speech", json={"input": "Hi."})
        assert r.status_code == 400 and r.json()["error"]["param"] == "voice"


@pytest.fixture
def short_sentence_app(synth, make_app):
    """An app whose model splits text into pieces of at most 16 tokens (so three short sentences = 3 pieces)."""
    small = Synthesizer(synth.model, synth.codec, synth.tokenizer, synth.symbols,
                        options=SynthesisOptions(max_text_tokens=16))  # fmt: skip
    from valle.serve import ServeConfig, create_app

    app = make_app()
    return create_app(small, ServeConfig(voices_dir=app.state.voices.root, max_audio_seconds=0.5))


def test_long_text_is_split_and_joined_with_pauses(short_sentence_app, prompt_bytes: bytes) -> None:
    with TestClient(short_sentence_app) as c:
        add_voice(c, prompt_bytes)
        wav, _ = decode(c.post("/v1/audio/speech", json={"input": THREE_SENTENCES, "voice": "alice", "seed": 0}).content)
    pause = int(0.2 * 24_000)  # SynthesisOptions.pause_seconds
    assert zero_runs(wav, pause) == 2


def test_stream_sends_the_same_audio_sentence_by_sentence(short_sentence_app, prompt_bytes: bytes) -> None:
    engine = short_sentence_app.state.engine
    assert engine.split(THREE_SENTENCES, engine.options) == ["Hello there.", "How are you?", "Fine, thanks."]
    # Streaming sends each sentence alone even when they would fit together; overlong ones are cut further.
    assert engine.split("One. Two!  Three?", SynthesisOptions()) == ["One.", "Two!", "Three?"]
    long = "A rather long sentence, with a clause."
    assert engine.split(long, SynthesisOptions(max_text_tokens=20)) == ["A rather long sentence,", "with a clause."]
    with TestClient(short_sentence_app) as c:
        add_voice(c, prompt_bytes)
        body = {"input": THREE_SENTENCES, "voice": "alice", "seed": 0}
        whole = c.post("/v1/audio/speech", json=body).content
        stats_before = engine.batcher.stats.items
        with c.stream("POST", "/v1/audio/speech", json={**body, "stream": True}) as r:
            assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
            streamed = b"".join(r.iter_bytes())
        pieces = engine.batcher.stats.items - stats_before
        raw = c.post("/v1/audio/speech", json={**body, "stream": True, "response_format": "pcm"}).content
    assert pieces == 3  # one engine job per sentence
    assert streamed[:4] == b"RIFF" and streamed[4:8] == b"\xff\xff\xff\xff"
    assert streamed[44:] == whole[44:] == raw  # seeded sampling: batched or alone, the same codes


def test_stream_refuses_flac(client: TestClient) -> None:
    r = client.post("/v1/audio/speech", json={"input": "Hi.", "stream": True, "response_format": "flac"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "response_format"


def test_auth_guards_v1_but_not_the_page(make_app, prompt_bytes: bytes) -> None:
    with TestClient(make_app(api_key="s3cret")) as c:
        r = c.get("/v1/voices")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert "no bearer token" in r.json()["error"]["message"]
        wrong = c.post("/v1/audio/speech", json={"input": "Hi."}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "wrong" in wrong.json()["error"]["message"]
        good = {"Authorization": "Bearer s3cret"}
        add_voice(c, prompt_bytes, headers=good)
        assert c.post("/v1/audio/speech", json={"input": "Hi.", "voice": "alice"}, headers=good).status_code == 200
        assert c.get("/healthz").json()["auth_required"] is True
        assert c.get("/").status_code == 200 and c.get("/openapi.json").status_code == 200


def test_page_docs_and_openapi_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'id="synthesize"' in page.text and "/static/app.js" in page.text
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "/v1/audio/speech" in js.text
    assert "openapi.json" in client.get("/docs").text
    spec = client.get("/openapi.json").json()
    assert {"/v1/audio/speech", "/v1/voices", "/v1/voices/{voice_id}", "/healthz"} <= set(spec["paths"])
    fields = spec["components"]["schemas"]["SpeechRequest"]["properties"]
    assert {"model", "input", "voice", "response_format", "stream", "top_k", "top_p", "temperature", "seed"} <= set(fields)


def test_openai_style_error_shape(client: TestClient) -> None:
    r = client.post("/v1/audio/speech", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == 400
    assert "not valid JSON" in error["message"]
    assert json.loads(r.content)  # the body itself is JSON


def test_upload_of_stereo_at_another_rate_is_converted(client: TestClient) -> None:
    from .conftest import prompt_waveform, wav_bytes

    stereo = np.stack([prompt_waveform(2.0), prompt_waveform(2.0, seed=1)], axis=1)[::3]  # 16 kHz, 2 channels
    made = add_voice(client, wav_bytes(stereo, 16_000, "FLAC"), "stereo", "Two channels.")
    assert made["duration_s"] == pytest.approx(1.0, abs=0.02)  # 16000 samples at 16 kHz = 75 code frames
    assert client.post("/v1/audio/speech", json={"input": "Hi.", "voice": "stereo"}).status_code == 200
