"""Prompts without a transcript: Whisper hears them (`valle.infer.auto_transcript`); "" still means silence."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import soundfile as sf

from valle.cli import main
from valle.errors import DataError, MissingDependencyError
from valle.infer import Synthesizer, Voice
from valle.infer.auto_transcript import whisper_language
from valle.text import TextTokenizer


@pytest.fixture
def heard(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, str | None]]:
    """Whisper replaced by a stand-in that hears "Hi there." and records (samples, rate, language) per call."""
    from valle.eval import asr

    calls: list[tuple[int, int, str | None]] = []

    def fake(wav, sample_rate, language="en"):
        calls.append((len(wav), sample_rate, language))
        return "Hi there."

    monkeypatch.setattr(asr, "transcribe", fake)
    return calls


@pytest.mark.parametrize(
    ("settings", "language"),
    [
        ({"backend": "espeak", "language": "en-us"}, "en"),
        ({"backend": "espeak", "language": "fr-fr"}, "fr"),
        ({"backend": "espeak", "language": "cmn"}, "zh"),
        ({"backend": "pypinyin_initials_finals"}, "zh"),
        ({"backend": "char"}, None),
    ],
)
def test_whisper_hears_the_front_ends_language(settings: dict, language: str | None) -> None:
    assert whisper_language(TextTokenizer.from_settings(settings)) == language


def test_a_prompt_without_transcript_is_heard_and_logged(
    synth: Synthesizer, prompt_files, heard, caplog: pytest.LogCaptureFixture
) -> None:
    (a, _), (b, _) = prompt_files[0], prompt_files[1]
    with caplog.at_level(logging.INFO, logger="valle.infer.auto_transcript"):
        voice = synth.make_voice(a)
    assert voice.text == "Hi there." and voice.tokens == synth.tokenizer.tokenize(["Hi there."])[0]
    assert heard == [(sf.info(a).frames, 24_000, None)]  # the prompt as read, at 24 kHz; char front-end
    assert "prompt audio: no transcript given; Whisper heard 'Hi there.'" in caplog.text
    both = synth.make_voice([a, b])  # one transcription per prompt, joined as given ones are
    assert both.text == "Hi there. Hi there." and len(heard) == 3
    assert synth.make_voice(a, "").text == "" and len(heard) == 3  # "" on purpose: nothing was said
    wav, _ = synth.synthesize("Yo.", prompt_audio=a, max_new_frames=4, top_k=1)  # a request without one too
    assert len(wav) == 4 * 320 and len(heard) == 4


def test_no_words_heard_or_no_whisper_is_one_clear_error(
    synth: Synthesizer, prompt_files, monkeypatch: pytest.MonkeyPatch
) -> None:
    from valle.eval import asr

    a = prompt_files[0][0]
    monkeypatch.setattr(asr, "transcribe", lambda wav, sr, language="en": " ")
    with pytest.raises(DataError, match="Whisper heard no words in it; pass its transcript"):
        synth.make_voice(a)

    def missing(*args, **kwargs):
        raise MissingDependencyError("faster-whisper is not installed; install the eval extra")

    monkeypatch.setattr(asr, "transcribe", missing)
    with pytest.raises(MissingDependencyError, match=r"has no transcript, and finding it needs Whisper \(faster"
                                                     r"-whisper is not installed.*pass the transcript"):  # fmt: skip
        synth.make_voice(a)


def test_make_voice_and_infer_without_text_prompts(exp_dir: Path, prompt_files, tmp_path: Path, heard) -> None:
    a = str(prompt_files[0][0])
    ckpt = ["--checkpoint", str(exp_dir / "best.pt"), "--num-threads", "1"]
    assert main(["make-voice", *ckpt, "--name", "dan", "--audio-prompts", a, "--out", str(tmp_path / "d.pt")]) == 0
    assert Voice.load(tmp_path / "d.pt").text == "Hi there." and len(heard) == 1
    assert main(["infer", *ckpt, "--audio-prompts", a, "--text", "Yo.", "--output-dir", str(tmp_path / "o"),
                 "--max-new-frames", "4", "--top-k", "1"]) == 0  # fmt: skip
    assert len(heard) == 2
    tsv = tmp_path / "list.tsv"  # an empty transcript field: heard too
    tsv.write_text(f"\t{a}\tYo.\t{tmp_path / 't.wav'}\n")
    assert main(["infer", *ckpt, "--text", str(tsv), "--max-new-frames", "4", "--top-k", "1"]) == 0
    assert len(heard) == 3 and (tmp_path / "t.wav").is_file()


@pytest.mark.slow
def test_whisper_hears_a_synthetic_prompt(small_corpus: Path) -> None:
    """The real recognizer on a flite recording of the corpus: close to its transcript."""
    pytest.importorskip("faster_whisper")
    from valle.codec import load_audio
    from valle.eval.metrics import word_error_rate
    from valle.infer.auto_transcript import transcribe_prompt

    meta = (small_corpus / "SPEAKERS.txt").read_text()
    flite = sorted(line.split("|")[0].strip() for line in meta.splitlines() if "flite:" in line)
    if not flite:
        pytest.skip("flite not installed")
    wav_path = min(small_corpus.rglob(f"{flite[0]}_*.wav"))
    truth = wav_path.with_suffix("").with_suffix(".normalized.txt").read_text()
    wav, sr = load_audio(wav_path)
    text = transcribe_prompt(wav, sr, TextTokenizer(backend="espeak"), "prompt audio")
    assert word_error_rate(truth, text) < 0.5, (truth, text)
