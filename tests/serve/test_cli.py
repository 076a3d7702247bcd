"""`valle serve` flags: help lists them; bad settings and missing checkpoints are one-line errors, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from valle.cli import main

pytest.importorskip("fastapi")


def test_help_lists_the_server_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ["--checkpoint", "--host", "--port", "--voices", "--api-key", "--max-batch", "--max-wait-ms",
                 "--max-queue", "--request-timeout", "--max-input-chars", "--max-upload-mb"]:  # fmt: skip
        assert flag in out


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--max-batch", "0"], "--max-batch must be > 0"),
        (["--max-wait-ms", "-1"], "--max-wait-ms must be >= 0"),
        (["--port", "70000"], "--port must be 1-65535"),
        (["--api-key", " "], "--api-key is empty"),
    ],
)
def test_bad_settings_fail_before_loading_the_model(flags: list[str], words: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    code = main(["serve", "--checkpoint", str(tmp_path / "missing.pt"), "--voices", str(tmp_path), *flags])
    err = capsys.readouterr().err
    assert code == 2 and words in err and err.count("\n") == 1


def test_a_missing_checkpoint_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["serve", "--checkpoint", str(tmp_path / "nope.pt"), "--voices", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "nope.pt" in err and err.count("\n") == 1
