"""`valle probe`: teacher-forced AR picks line up with free-running decoding; wavs, summary and errors."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from valle.cli import main
from valle.demo.probe import probe_item
from valle.errors import InvalidInputError
from valle.models import build_model
from valle.models.expected import ExpectedFrames


@pytest.mark.parametrize("prepend_bos", [False, True])
def test_one_step_on_greedy_output_reproduces_it(synth, prompt_files, prepend_bos: bool) -> None:
    """Teacher forcing on what greedy decoding produced must pick every frame again (offsets, layout, NAR)."""
    s = copy.copy(synth)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        s.model = build_model(dataclasses.replace(synth.model.config, prepend_bos=prepend_bos)).eval()
    s.model.meta = synth.model.meta
    wav_path, transcript = prompt_files[0]
    voice = s.make_voice(wav_path, transcript)
    text = "Some words to say."
    ids, lens = s.collater()([s.tokenizer.tokenize([f"{transcript} {text}"])[0]])
    greedy = s.model.generate(ids, lens, voice.codes[None], top_k=1, max_new_frames=24)[0]  # [N, Q]
    assert greedy.shape[0] > 3
    probe = probe_item(s, voice, text, greedy, ["one-step"])["one-step"]
    assert probe.frame_accuracy == 1.0
    torch.testing.assert_close(probe.codes, greedy)  # the same codebook 1, so the same NAR codebooks
    assert probe.loss > 0


def test_truth_keeps_the_recordings_codebook_1(synth, prompt_files) -> None:
    wav_path, transcript = prompt_files[1]
    voice = synth.make_voice(wav_path, transcript)
    q = synth.model.config.num_quantizers
    target = torch.randint(0, synth.model.config.num_audio_tokens, (30, q), generator=torch.Generator().manual_seed(0))
    probes = probe_item(synth, voice, "hello there", target)
    truth, guess = probes["truth"], probes["one-step"]
    assert truth.codes.shape == guess.codes.shape == (30, q)
    torch.testing.assert_close(truth.codes[:, 0], target[:, 0])
    assert truth.frame_accuracy == guess.frame_accuracy < 0.5  # an untrained model rarely guesses random codes
    assert not torch.equal(truth.codes[:, 0], guess.codes[:, 0])
    vectors = synth.codec.code_vectors()
    (frames,) = probe_item(synth, voice, "hello there", target, ["truth"], ExpectedFrames(vectors, 1e-6)).values()
    torch.testing.assert_close(frames.codes, sum(vectors[k][truth.codes[:, k]] for k in range(q)))  # T -> 0: argmax
    with pytest.raises(InvalidInputError, match="unknown probe mode"):
        probe_item(synth, voice, "hello", target, ["free"])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="frames > 0"):
        probe_item(synth, voice, "hello", target[:0], ["truth"])


def test_cli_writes_each_modes_wavs_and_a_summary(exp_dir: Path, small_corpus: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "probe"
    code = main(["probe", str(exp_dir / "best.pt"), "--corpus", str(small_corpus), "--out", str(out), "--items", "2",
                 "--no-score"])  # fmt: skip
    assert code == 0
    assert "| one-step |" in capsys.readouterr().out
    summary = json.loads((out / "probe.json").read_text())["summary"]
    assert set(summary) == {"truth", "one-step"}
    for mode, row in summary.items():
        assert row["items"] == 2 and 0 <= row["frame_accuracy"] <= 1 and row["ar_loss"] > 0
        wavs = sorted((out / mode).glob("*.wav"))
        assert len(wavs) == 2 and all(sf.info(str(w)).samplerate == 24_000 for w in wavs)


def test_cli_nar_temperature_decodes_expected_frames(exp_dir: Path, small_corpus: Path, tmp_path: Path) -> None:
    args = ["probe", str(exp_dir / "best.pt"), "--corpus", str(small_corpus), "--items", "1", "--no-score",
            "--mode", "truth"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "e"), "--nar-temperature", "0.5"]) == 0
    assert json.loads((tmp_path / "e" / "probe.json").read_text())["nar_temperature"] == 0.5
    (a,), (e,) = (sorted((tmp_path / d / "truth").glob("*.wav")) for d in "ae")
    wa, we = sf.read(a)[0], sf.read(e)[0]
    assert wa.shape == we.shape and np.abs(wa - we).max() > 1e-3  # same frames, codebooks 2-8 decoded apart
    assert main([*args, "--out", str(tmp_path / "x"), "--nar-temperature", "-1"]) == 2


def test_cli_bad_input_is_one_line_and_exit_2(exp_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["probe", str(exp_dir / "best.pt"), "--corpus", str(tmp_path), "--no-score"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no test-clean/ folder" in err and len(err.splitlines()) == 1
    assert main(["probe", str(tmp_path / "nope.pt"), "--corpus", str(tmp_path)]) == 2
    assert "nope.pt does not exist; check the path" in capsys.readouterr().err
