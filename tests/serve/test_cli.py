"""`valle serve` flags: help lists them; bad settings and missing checkpoints are one-line errors, exit 2."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from valle.cli import main

pytest.importorskip("fastapi")


def free_port() -> str:
    """A port nothing listens on now (so that these tests never depend on what else the machine serves)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def test_help_lists_the_server_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ["--checkpoint", "--host", "--port", "--voices", "--api-key", "--max-batch", "--max-wait-ms",
                 "--max-queue", "--request-timeout", "--max-input-chars", "--max-upload-mb", "--candidates", "--reader"]:  # fmt: skip
        assert flag in out


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--max-batch", "0"], "--max-batch must be > 0"),
        (["--max-wait-ms", "-1"], "--max-wait-ms must be >= 0"),
        (["--port", "70000"], "--port must be 1-65535"),
        (["--api-key", " "], "--api-key is empty"),
        (["--candidates", "0"], "--candidates must be >= 1"),
    ],
)
def test_bad_settings_fail_before_loading_the_model(flags: list[str], words: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    code = main(["serve", "--checkpoint", str(tmp_path / "missing.pt"), "--voices", str(tmp_path), "--port",
                 free_port(), *flags])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and words in err and err.count("\n") == 1


def test_a_missing_checkpoint_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["serve", "--checkpoint", str(tmp_path / "nope.pt"), "--voices", str(tmp_path), "--port", free_port()])
    err = capsys.readouterr().err
    assert code == 2 and "nope.pt" in err and err.count("\n") == 1


def test_a_port_in_use_fails_before_loading_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """uvicorn's own report of it is a log line and exit code 3, after the model has loaded."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["serve", "--checkpoint", str(tmp_path / "nope.pt"), "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use); choose another --port" in err


def test_a_default_voice_not_saved_yet_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not an error: the voice may be uploaded to the running server."""
    args = ["serve", "--checkpoint", str(tmp_path / "nope.pt"), "--voices", str(tmp_path), "--port", free_port()]
    assert main([*args, "--default-voice", "alice"]) == 2  # the missing checkpoint, after the warning
    warning, error = capsys.readouterr().err.strip().splitlines()
    assert f"WARNING [valle.commands.serve] --default-voice alice is not in {tmp_path} yet" in warning
    assert "nope.pt" in error
    assert main([*args, "--default-voice", "../x"]) == 2
    assert "voice id '../x' is not allowed" in capsys.readouterr().err


def test_draws_without_a_reader_for_the_codec_fail_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The debug model's random codec is not the one the shipped reader reads: say so before serving anything."""
    code = main(["serve", "--checkpoint", "debug", "--voices", str(tmp_path), "--port", free_port(), "--candidates", "2"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "reads another codec's codes than this model's" in err, err
