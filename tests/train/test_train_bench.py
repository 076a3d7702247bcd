"""bench/train.py: one trainer step's throughput per model size and precision, each in its own process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "train.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, check=False,
                          timeout=300)  # fmt: skip


def test_one_row_per_precision_with_a_positive_rate() -> None:
    out = _run("--configs", "tiny", "--threads", "1", "--precisions", "fp32,bf16-fp32attn", "--batch", "1",
               "--frames", "20", "--text", "10", "--steps", "1", "--warmup", "0", "--device", "cpu")  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line.split("|")[1:-1] for line in out.stdout.splitlines() if line.startswith("| tiny")]
    assert [r[2].strip() for r in rows] == ["fp32", "bf16-fp32attn"], out.stdout
    for r in rows:
        assert "failed" not in r[4]
        assert float(r[5]) > 0  # audio frames/s of a step that ran
        assert r[1].strip() == "3.5 M"  # the tiny configuration's size, the same model at both precisions


def test_an_unknown_precision_is_refused_with_the_choices() -> None:
    out = _run("--precisions", "fp16", "--device", "cpu")
    assert out.returncode != 0
    assert "unknown fp16" in out.stderr and "bf16-fp32attn" in out.stderr
