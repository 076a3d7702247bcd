"""The demo end to end at toy size: every stage runs, reruns reuse the outputs, the report has every system."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from valle.demo import DemoConfig, run_demo

pytestmark = pytest.mark.slow


def test_tiny_demo_end_to_end_and_rerun_reuses_outputs(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper")
    cfg = DemoConfig(work_dir=tmp_path / "demo", speakers=3, utterances_per_speaker=6, minutes=0.1, eval_items=2,
                     max_seconds=2.0, codec_size=32, vocoder="griffin-lim", decoder_dim=32, nhead=2,
                     num_decoder_layers=1)
    report = run_demo(cfg)
    text = report.read_text()
    for system in ("ground_truth", "codec", "untrained", "demo"):
        assert f"| {system} |" in text, text
    data = json.loads((cfg.work_dir / "report.json").read_text())
    assert data["systems"]["ground_truth"]["items"] == 2
    assert data["systems"]["ground_truth"]["wer"] < data["systems"]["untrained"]["wer"]
    assert "median WER" in text and data["systems"]["ground_truth"]["wer_median"] is not None
    assert (cfg.work_dir / "exp_curve.png").is_file() or "training curve" not in text
    outputs = sorted((cfg.work_dir / "outputs" / "demo").glob("*.wav"))
    assert len(outputs) == 2
    stamps = {p: p.stat().st_mtime_ns for p in outputs}
    scores = sorted((cfg.work_dir / "outputs").glob("*/scores.json"))
    assert len(scores) == 4  # one per system: ground_truth, codec, untrained, demo
    scored = {p: p.stat().st_mtime_ns for p in scores}
    assert run_demo(cfg) == report  # second run: every stage reused, nothing re-scored
    assert stamps == {p: p.stat().st_mtime_ns for p in outputs}
    assert scored == {p: p.stat().st_mtime_ns for p in scores}
    assert json.loads((cfg.work_dir / "report.json").read_text()) == data
    # No training, one more checkpoint to evaluate (here the demo's own: same seed, so the same audio).
    again = dataclasses.replace(cfg, minutes=0, extra_systems={"mine": cfg.work_dir / "exp" / "model-last.pt"})
    assert "| mine |" in run_demo(again).read_text()
    assert json.loads((cfg.work_dir / "report.json").read_text())["systems"]["mine"]["items"] == 2
    assert stamps == {p: p.stat().st_mtime_ns for p in outputs}
    for p in outputs:
        assert np.array_equal(sf.read(p)[0], sf.read(cfg.work_dir / "outputs" / "mine" / p.name)[0])
    # "mine" now names another checkpoint (the float16 export): its old outputs are not reused.
    from valle.cli import main

    half = cfg.work_dir / "half.pt"
    assert main(["export-model", str(cfg.work_dir / "exp" / "model-last.pt"), str(half), "--dtype", "float16"]) == 0
    mine = sorted((cfg.work_dir / "outputs" / "mine").glob("*.wav"))
    before = {p: p.stat().st_mtime_ns for p in mine}
    audio_before = {p: p.read_bytes() for p in mine}
    mine_scores = cfg.work_dir / "outputs" / "mine" / "scores.json"
    old_key = json.loads(mine_scores.read_text())["key"]
    run_demo(dataclasses.replace(again, extra_systems={"mine": half}))
    assert all(p.is_file() and p.stat().st_mtime_ns != before[p] for p in mine)
    # Scored anew exactly when the audio changed: float16 rounding usually changes the sampled codes, but a
    # tiny model can speak byte-identical wavs, and then the cached scores are the right ones.
    changed = any(p.read_bytes() != audio_before[p] for p in mine)
    assert (json.loads(mine_scores.read_text())["key"] != old_key) == changed
    assert scored == {p: p.stat().st_mtime_ns for p in scores}  # the unchanged systems were not
