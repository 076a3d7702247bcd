"""`valle train` flags (the reference's spellings), one-line errors, and a SIGKILL-and-resume run."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from valle.cli import build_parser, main
from valle.commands.train import build_config, str2bool
from valle.models.config import PrefixMode, TrainStage
from valle.train.config import DType, OptimizerName

TINY = ["--decoder-dim", "32", "--nhead", "2", "--num-decoder-layers", "2", "--prefix-mode", "1", "--max-duration", "6",
        "--num-workers", "0", "--num-threads", "1", "--tensorboard", "false", "--oom-check", "false"]  # fmt: skip


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "valle", *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_str2bool_accepts_the_reference_spellings() -> None:
    assert all(str2bool(v) for v in ("true", "True", "1", "yes", "Y", "t"))
    assert not any(str2bool(v) for v in ("false", "FALSE", "0", "no", "n", "f"))
    with pytest.raises(argparse.ArgumentTypeError):
        str2bool("maybe")


def test_reference_readme_command_maps_onto_the_configs() -> None:
    # lifeiteng/vall-e README, "Train AR model" (plus --prefix_mode spelled with an underscore, as in its docs).
    argv = ["train", "--max-duration", "80", "--filter-min-duration", "0.5", "--filter-max-duration", "14", "--train-stage", "1", "--num-buckets", "6", "--dtype", "bf16", "--save-every-n", "10000", "--valid-interval", "20000", "--model-name", "valle", "--share-embedding", "true", "--norm-first", "true", "--add-prenet", "false", "--decoder-dim", "1024", "--nhead", "16", "--num-decoder-layers", "12", "--prefix_mode", "1", "--base-lr", "0.05", "--warmup-steps", "200", "--average-period", "0", "--num-epochs", "20", "--start-epoch", "1", "--start-batch", "0", "--accumulate-grad-steps", "4", "--exp-dir", "exp/valle", "--input-strategy", "PromptedPrecomputedFeatures"]  # fmt: skip
    cfg = build_config(build_parser().parse_args(argv))
    assert cfg.train_stage == TrainStage.AR and cfg.dtype == DType.BFLOAT16
    assert cfg.optimizer_name == OptimizerName.SCALED_ADAM and cfg.accumulate_grad_steps == 4
    assert cfg.model.prefix_mode == PrefixMode.START and cfg.model.decoder_dim == 1024 and cfg.model.share_embedding
    assert cfg.data.max_duration == 80 and cfg.data.num_buckets == 6 and cfg.data.filter_max_duration == 14
    assert cfg.exp_dir == Path("exp/valle") and cfg.save_every_n == 10000 and cfg.valid_interval == 20000
    assert cfg.data.repeat_train == 1  # one pass per epoch unless --repeat-train says otherwise
    assert build_config(build_parser().parse_args(["train", "--repeat-train", "10"])).data.repeat_train == 10
    assert cfg.data.concat_prompt_prob == 0.0  # single utterances, as the reference, unless asked
    assert not cfg.fp32_attention  # the reference's arithmetic unless asked
    assert build_config(build_parser().parse_args(["train", "--dtype", "bf16", "--fp32-attention", "true"])).fp32_attention
    joined = build_config(build_parser().parse_args(["train", "--concat-prompt-prob", "0.5"]))
    assert joined.data.concat_prompt_prob == 0.5
    assert cfg.scheduled_sampling == 0.0  # the AR reads only true codes, as the reference, unless asked
    assert build_config(build_parser().parse_args(["train", "--scheduled-sampling", "0.3"])).scheduled_sampling == 0.3
    assert cfg.text_dropout == 0.0  # the AR always sees its text, as the reference, unless asked
    assert build_config(build_parser().parse_args(["train", "--text-dropout", "0.1"])).text_dropout == 0.1


@pytest.mark.parametrize("flags, message", [
    (["--dtype", "fp8"], "--dtype must be"),
    (["--optimizer-name", "Eve"], "Eve is not provided"),
    (["--scheduler-name", "linear"], "--scheduler-name must be"),
    (["--save-every-n", "10", "--accumulate-grad-steps", "4"], "multiple of --accumulate-grad-steps"),
    (["--norm-first", "maybe"], "expected a boolean"),
    (["--train-stage", "3"], "invalid choice"),
    (["--repeat-train", "0"], "--repeat-train must be >= 1"),
    (["--concat-prompt-prob", "2"], "--concat-prompt-prob must be in [0, 1]"),
    (["--scheduled-sampling", "-0.1"], "--scheduled-sampling must be in [0, 1]"),
    (["--text-dropout", "1"], "--text-dropout must be in [0, 1)"),
])  # fmt: skip
def test_bad_flags_are_one_line_errors(flags: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:  # fmt: skip
    with pytest.raises(SystemExit) as e:
        code = main(["train", "--exp-dir", str(tmp_path), *flags])
        raise SystemExit(code)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_missing_manifest_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["train", "--manifest-dir", str(tmp_path / "nothing"), "--exp-dir", str(tmp_path / "exp"), *TINY])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cuts_train.jsonl.gz" in err[0], err


def _train_lines(exp: Path) -> list[tuple[int, float]]:
    rows = [json.loads(x) for x in (exp / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if r["split"] == "train"]


def _latest_step(exp: Path) -> int:
    """The step of the checkpoint-N.pt that latest.txt names; -1 before the first save or while it names an
    epoch-N.pt (latest.txt is written whole, by rename, so it is never read half)."""
    try:
        return int((exp / "latest.txt").read_text().strip().removeprefix("checkpoint-").removesuffix(".pt"))
    except (FileNotFoundError, ValueError):
        return -1


@pytest.mark.slow
def test_sigkill_at_any_moment_then_resume_matches_uninterrupted(random_corpus: Path, tmp_path: Path) -> None:
    common = ["train", "--manifest-dir", str(random_corpus), *TINY, "--num-epochs", "4", "--log-interval", "1",
              "--save-every-n", "2", "--valid-interval", "1000", "--seed", "5"]  # fmt: skip
    assert main([*common, "--exp-dir", str(tmp_path / "full")]) == 0
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "valle", "-q", *common, "--exp-dir", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    # Wait on latest.txt, not on checkpoint-6.pt: the checkpoint is renamed into place a moment before latest.txt
    # moves to it, and a kill in between rightly leaves latest at checkpoint-4 (seen once in CI).
    while _latest_step(killed) < 6 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    lines_at_kill = _train_lines(killed)
    assert lines_at_kill and lines_at_kill[-1][0] < _train_lines(tmp_path / "full")[-1][0]
    latest = (killed / "latest.txt").read_text().strip()
    assert (killed / latest).is_file()  # checkpoint-6.pt or later, or an epoch-N.pt saved after it
    assert main([*common, "--exp-dir", str(killed), "--resume", "latest"]) == 0
    assert f"resuming from {killed / latest}" in (killed / "log" / "log-train.txt").read_text()
    assert _train_lines(killed) == _train_lines(tmp_path / "full")
