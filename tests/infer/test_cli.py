"""`valle infer` and `valle make-voice`: the reference's flags, TSV batches, voices, one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile as sf

from valle.cli import main

FAST = ["--max-new-frames", "12", "--top-k", "1", "--num-threads", "1"]


def _ckpt(exp_dir: Path) -> list[str]:
    return ["--checkpoint", str(exp_dir / "best.pt")]


def test_infer_with_reference_flags_writes_numbered_wavs(exp_dir: Path, prompt_files, tmp_path: Path, capsys) -> None:
    (a, ta), (b, tb) = prompt_files[0], prompt_files[1]
    out = tmp_path / "out"
    code = main(["infer", *_ckpt(exp_dir), "--text-prompts", f"{ta}|{tb}", "--audio-prompts", f"{a}|{b}",
                 "--text", "Hello there.|How are you?|Bye.", "--output-dir", str(out), *FAST])  # fmt: skip
    assert code == 0
    for n in range(3):
        wav, sr = sf.read(out / f"{n}.wav")
        assert sr == 24_000 and 0 < len(wav) <= 12 * 320
        assert (out / f"{n}.wav").stat().st_mode & 0o044  # readable by others, like any written file
    assert "synthesized 3 of 3 item(s)" in capsys.readouterr().out


def test_infer_tsv_skips_bad_lines_and_exits_2(exp_dir: Path, prompt_files, tmp_path: Path, capsys) -> None:
    (a, ta), (b, tb) = prompt_files[0], prompt_files[1]
    tsv = tmp_path / "demo.tsv"
    tsv.write_text(
        f"{ta}\t{a}\tFirst line.\t{tmp_path / 'x' / 'first.wav'}\n"
        "only\ttwo fields\n"
        f"{tb}\t{tmp_path / 'missing.wav'}\tThird line.\t{tmp_path / 'third.wav'}\n"
        f"{tb}\t{b}\tFourth line.\t{tmp_path / 'fourth.wav'}\n"
    )
    code = main(["infer", *_ckpt(exp_dir), "--text", str(tsv), *FAST])
    assert code == 2
    assert (tmp_path / "x" / "first.wav").is_file() and (tmp_path / "fourth.wav").is_file()
    assert not (tmp_path / "third.wav").exists()
    out, err = capsys.readouterr()  # the CLI logs to stderr
    assert "line 2 has 2 tab-separated fields" in err
    assert "demo.tsv line 3: prompt audio" in err and "missing.wav does not exist" in err
    assert "synthesized 2 of 4 item(s)" in out


def test_make_voice_then_infer_with_it(exp_dir: Path, prompt_files, tmp_path: Path, capsys) -> None:
    a, ta = prompt_files[2]
    voices = tmp_path / "voices"
    assert main(["make-voice", *_ckpt(exp_dir), "--name", "carol", "--audio-prompts", str(a),
                 "--text-prompts", ta, "--voice-dir", str(voices)]) == 0  # fmt: skip
    assert (voices / "carol.voice.pt").is_file()
    assert "wrote voice 'carol'" in capsys.readouterr().out
    for bad in ("has space", "../up", ".hidden"):  # the server's voice-id rule: a name it could not serve is refused
        assert main(["make-voice", *_ckpt(exp_dir), "--name", bad, "--audio-prompts", str(a), "--text-prompts", ta,
                     "--voice-dir", str(voices)]) == 2  # fmt: skip
        assert f"voice name {bad!r} is not allowed; use 1-64 letters" in capsys.readouterr().err
    assert sorted(p.name for p in voices.iterdir()) == ["carol.voice.pt"]
    by_voice, by_prompt = tmp_path / "v", tmp_path / "p"
    assert main(["infer", *_ckpt(exp_dir), "--voice", "carol", "--voice-dir", str(voices), "--text", "Hi.",
                 "--output-dir", str(by_voice), *FAST]) == 0  # fmt: skip
    assert main(["infer", *_ckpt(exp_dir), "--audio-prompts", str(a), "--text-prompts", ta, "--text", "Hi.",
                 "--output-dir", str(by_prompt), *FAST]) == 0  # fmt: skip
    assert (by_voice / "0.wav").read_bytes() == (by_prompt / "0.wav").read_bytes()


def test_continual_flag_takes_the_reference_spelling(exp_dir: Path, prompt_files, tmp_path: Path) -> None:
    a, ta = prompt_files[0]
    for spelling in (["--continual"], ["--continual", "true"]):
        out = tmp_path / spelling[-1]
        assert main(["infer", *_ckpt(exp_dir), "--audio-prompts", str(a), "--text-prompts", ta, *spelling,
                     "--output-dir", str(out)]) == 0  # fmt: skip
        assert len(sf.read(out / "0.wav")[0]) > 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--text-prompts", "a|b", "--text", "Hi."], "has 1 file(s) but --text-prompts has 2 transcript(s)"),
        (["--text-prompts", "", "--text", "Hi.", "--continual"], "leave --text out"),
        (["--top-p", "0", "--text", "Hi."], "top_p must lie in"),
        (["--guidance", "-1", "--text", "Hi."], "guidance must be a finite number >= 0"),
        (["--nar-temperature", "-0.5", "--text", "Hi."], "nar_temperature must be a finite number >= 0"),
        (["--text", "Hi.", "--voice", "nobody"], "either --voice or --audio-prompts"),
        (["--candidates", "0", "--text", "Hi."], "candidates must be >= 1 draw per text"),
        (["--candidates", "2", "--reader", "/nonexistent.pt", "--text", "Hi."], "code reader /nonexistent.pt does not"),
    ],
)
def test_bad_flags_give_one_line_and_exit_2(
    exp_dir: Path, prompt_files, capsys, extra: list[str], message: str
) -> None:
    a = str(prompt_files[0][0])
    code = main(["infer", *_ckpt(exp_dir), "--audio-prompts", a, *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("error:") == 1, err
    assert err.strip().splitlines()[-1].startswith("valle infer: error: ")


@pytest.mark.parametrize("continual", [False, True], ids=["text", "continual"])
def test_an_unwritable_output_dir_fails_before_synthesis(
    exp_dir: Path, prompt_files, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, continual: bool
) -> None:
    from valle.infer import Synthesizer

    def never(*args, **kwargs):
        raise AssertionError("synthesized although the output folder cannot be made")

    monkeypatch.setattr(Synthesizer, "synthesize_batch", never)
    monkeypatch.setattr(Synthesizer, "continual", never)
    (tmp_path / "f").write_text("a file where the output folder should go")
    a, ta = prompt_files[0]
    mode = ["--continual"] if continual else ["--text", "Hi."]
    code = main(["infer", *_ckpt(exp_dir), "--audio-prompts", str(a), "--text-prompts", ta, *mode,
                 "--output-dir", str(tmp_path / "f" / "out"), *FAST])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("valle infer: error: ")
    assert str(tmp_path / "f") in err and "a file stands where a folder is needed" in err


def test_missing_checkpoint_and_prompt(tmp_path: Path, exp_dir: Path, capsys) -> None:
    assert main(["infer", "--checkpoint", str(tmp_path / "none.pt"), "--text", "Hi."]) == 2
    assert "none.pt" in capsys.readouterr().err
    assert main(["infer", *_ckpt(exp_dir), "--text", "Hi."]) == 2
    assert "no prompt: give --audio-prompts" in capsys.readouterr().err
    assert main(["infer", *_ckpt(exp_dir), "--voice", "alice", "--continual"]) == 2
    assert "--continual re-synthesizes a recording: give it with --audio-prompts" in capsys.readouterr().err
    assert main(["infer", *_ckpt(exp_dir), "--voice", "alice", "--text", str(tmp_path / "lines.tsv")]) == 2
    assert "lines.tsv looks like a TSV file but it does not exist" in capsys.readouterr().err


def test_a_silent_output_is_written_but_fails_the_run(
    exp_dir: Path, prompt_files, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """"wrote out/0.wav" and exit 0 for a wav of silence would pass off an unspoken text as done."""
    from valle.infer import Synthesizer

    a, ta = prompt_files[0]
    real = Synthesizer.vocode
    monkeypatch.setattr(Synthesizer, "vocode", lambda self, codes: real(self, codes) * 1e-4)
    code = main(["infer", *_ckpt(exp_dir), "--audio-prompts", str(a), "--text-prompts", ta, "--text", "Hush.|Speak.",
                 "--output-dir", str(tmp_path), *FAST])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    assert sf.info(tmp_path / "0.wav").frames > 0 and (tmp_path / "1.wav").is_file()  # written, to listen to
    assert "text 0: the output is silent" in err and "text 1: the output is silent" in err
    assert "synthesized 2 of 2 item(s)" in out and "2 of them silent: the model spoke none of their text" in out
    monkeypatch.setattr(Synthesizer, "vocode", real)
    assert main(["infer", *_ckpt(exp_dir), "--audio-prompts", str(a), "--text-prompts", ta, "--text", "Hush.",
                 "--output-dir", str(tmp_path), *FAST]) == 0  # fmt: skip


def test_exported_synthesis_settings_are_infers_defaults_and_flags_override_them(
    exp_dir: Path, prompt_files, tmp_path: Path, capsys
) -> None:
    from valle.infer import SynthesisOptions, Synthesizer

    shutil.copy(exp_dir / "codec.pt", tmp_path / "codec.pt")  # found beside the checkpoint, as in exp_dir
    rec = tmp_path / "rec.pt"
    settings = '{"top_k": 1, "max_new_frames": 5, "min_new_frames": 5}'
    assert main(["export-model", str(exp_dir / "best.pt"), str(rec), "--synthesis", settings]) == 0
    options = Synthesizer.from_checkpoint(rec).options
    capsys.readouterr()
    assert main(["model-info", str(rec)]) == 0
    assert 'recommended synthesis settings: {"max_new_frames": 5, "min_new_frames": 5, "top_k": 1}' in capsys.readouterr().out
    assert (options.top_k, options.max_new_frames, options.min_new_frames, options.temperature) == (1, 5, 5, 1.0)
    a, ta = prompt_files[0]
    common = ["infer", "--checkpoint", str(rec), "--audio-prompts", str(a), "--text-prompts", ta, "--text", "Hi.",
              "--num-threads", "1"]  # fmt: skip
    assert main([*common, "--output-dir", str(tmp_path / "rec")]) == 0
    assert len(sf.read(tmp_path / "rec" / "0.wav")[0]) == 5 * 320  # the checkpoint's length settings
    assert main([*common, "--output-dir", str(tmp_path / "flag"), "--max-new-frames", "7", "--min-new-frames", "7"]) == 0
    assert len(sf.read(tmp_path / "flag" / "0.wav")[0]) == 7 * 320  # flags win
    assert main(["export-model", str(rec), str(tmp_path / "kept.pt")]) == 0  # no --synthesis: kept
    kept = Synthesizer.from_checkpoint(tmp_path / "kept.pt")
    assert kept.options == options and kept.model.meta.extra["export_history"] == [str(exp_dir / "best.pt")]
    assert main(["export-model", str(rec), str(tmp_path / "cleared.pt"), "--synthesis", "{}"]) == 0
    assert Synthesizer.from_checkpoint(tmp_path / "cleared.pt").options == SynthesisOptions()
    capsys.readouterr()
    for bad, message in (('{"top_q": 3}', "unknown synthesis option(s) 'top_q'"), ('{"top_k": "ten"}', "top_k must"),
                         ("[10]", "must be a JSON object"), ("{top_k: 1}", "must be a JSON object"),
                         ('{"temperature": "hot"}', "temperature must be a number, got 'hot'"),
                         ('{"temperature": Infinity}', "temperature must be a finite number > 0, got inf"),
                         ('{"batch_size": 2.5}', "batch_size must be a whole number, got 2.5"),
                         ('{"ras": "yes"}', "ras must be true or false, got 'yes'")):  # fmt: skip
        assert main(["export-model", str(rec), str(tmp_path / "bad.pt"), "--synthesis", bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
        assert not (tmp_path / "bad.pt").exists()
