"""The command line: help, version, and the one-line / exit-code-2 error contract."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from valle import __version__
from valle.cli import main
from valle.errors import InvalidInputError, os_error_message
from valle.utils import resolve_device

NEEDS_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
NEEDS_NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "valle", *args], capture_output=True, text=True, check=False, timeout=120)


def test_help_lists_subcommands() -> None:
    out = run_cli("--help")
    assert out.returncode == 0
    assert "synth-corpus" in out.stdout


def test_every_option_help_names_its_default_once() -> None:
    """`valle CMD --help`: an option with a value by default says which, in its own text or appended, never twice."""
    import argparse
    import re

    from valle.cli import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    checked = 0
    for name, sub in commands.choices.items():
        text = sub.format_help()
        for action in sub._actions:
            valued = not isinstance(action, (argparse._StoreConstAction, argparse._CountAction, argparse._HelpAction))
            if not action.option_strings or not valued or action.default in (None, "", []):
                continue
            # the option's block: from its invocation line to the next option's
            block = re.search(rf"\n  {re.escape(action.option_strings[0])}[ ,\n].*?(?=\n  -|\Z)", text, re.DOTALL)
            assert block is not None, f"{name} {action.option_strings[0]} not in --help"
            words = " ".join(block.group().split()).lower()
            assert "default" in words, f"valle {name} --help: {words!r} does not name its default"
            assert words.count("(default:") <= 1, f"valle {name} --help: {words!r} names its default twice"
            checked += 1
    assert checked > 90  # every command's valued options were looked at
    demo = commands.choices["demo"].format_help()
    assert "(default: 15.0)" in " ".join(demo.split()) and "(default: demo)" in " ".join(demo.split())


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_unknown_flag_is_one_line_exit_2() -> None:
    out = run_cli("synth-corpus", "--out", "x", "--speakers", "many")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "invalid int value" in lines[0], out.stderr


def test_an_unrecognized_argument_is_blamed_on_its_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["phonemize", "Hi.", "--bogus", "1"])
    assert e.value.code == 2
    assert capsys.readouterr().err == (
        "valle phonemize: error: unrecognized arguments: --bogus 1 (see 'valle phonemize --help')\n"
    )
    with pytest.raises(SystemExit):
        main(["--bogus"])
    assert capsys.readouterr().err.startswith("valle: error: unrecognized arguments: --bogus")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tpu", "unknown --device 'tpu'; use auto, cpu, cuda, cuda:N or mps"),
        ("meta", "unsupported --device 'meta'"),
        pytest.param("cuda:0", "CUDA is not available on this machine; use --device cpu", marks=NEEDS_NO_CUDA),
        pytest.param("cuda:99", "this machine has", marks=NEEDS_CUDA),
    ],
)
def test_a_bad_device_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    """torch's own errors here are tracebacks (an AssertionError for CUDA on a CPU build)."""
    assert resolve_device(None) == resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(InvalidInputError, match=message):
        resolve_device(spec)
    assert main(["infer", "--checkpoint", "debug", "--text", "Hi.", "--output-dir", str(tmp_path), "--device", spec]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_user_error_is_one_line_exit_2_without_traceback(tmp_path: Path) -> None:
    out = run_cli("synth-corpus", "--out", str(tmp_path / "c"), "--speakers", "1")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "--speakers must be >= 2" in lines[0], out.stderr


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
def test_an_output_path_under_a_file_is_one_line_exit_2(tmp_path: Path, verbose: bool) -> None:
    """A file-system error on the user's path is the user's to fix: one line naming it, exit 2; `-v` keeps the
    traceback for a bug report."""
    (tmp_path / "f").write_text("a file, not a folder")
    out = run_cli(*(["-v"] if verbose else []), "synth-corpus", "--out", str(tmp_path / "f" / "c"), "--speakers", "2",
                  "--utterances-per-speaker", "2", "--no-flite")  # fmt: skip
    if verbose:
        assert out.returncode == 1 and "Traceback" in out.stderr
        return
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"{tmp_path / 'f'}/c;" in lines[0] and "a file stands where a folder is needed" in lines[0]


@pytest.mark.parametrize(
    ("error", "expected"),
    [(OSError(errno.ENOSPC, "No space left on device", "/data/x.pt"), "No space left on device: /data/x.pt; the disk"),
     (PermissionError(errno.EACCES, "Permission denied", "/x", None, "/y"), "Permission denied: /x -> /y; choose a path"),
     (OSError(errno.ENOSPC, "No space left on device"), None),  # no path to name: not the user's path
     (OSError(errno.ECONNRESET, "Connection reset", "/x"), None)],  # not a file-system error: a bug's traceback
    ids=["full_disk", "two_paths", "no_path", "other_errno"],
)
def test_os_error_message(error: OSError, expected: str | None) -> None:
    message = os_error_message(error)
    assert message == expected if expected is None else message is not None and message.startswith(expected)


def test_synth_corpus_command_writes_corpus(tmp_path: Path) -> None:
    out = run_cli("-q", "synth-corpus", "--out", str(tmp_path / "c"), "--speakers", "2",
                  "--utterances-per-speaker", "2", "--no-flite")
    assert out.returncode == 0, out.stderr
    assert len(list((tmp_path / "c").rglob("*.wav"))) == 4


@pytest.mark.parametrize(("spec", "message"), [("mine", "NAME=CHECKPOINT"), ("pretrained=x.pt", "is taken"),
                                                ("mine=/no/such.pt", "--system mine: checkpoint /no/such.pt does not exist; check the path")])  # fmt: skip
def test_demo_system_flag_errors_are_one_line_exit_2(tmp_path: Path, spec: str, message: str) -> None:
    out = run_cli("demo", "--work-dir", str(tmp_path / "d"), "--system", spec)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr
    assert not (tmp_path / "d").exists()  # refused before any stage ran


def test_install_script_refuses_a_nearly_full_disk_in_one_line(tmp_path: Path) -> None:
    """`make` on a disk without room for .venv stops at once with exit 2, before pip or apt run."""
    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts" / "install.sh"
    script.write_text((Path(__file__).parent.parent / "scripts" / "install.sh").read_text())
    env = {"PATH": "/usr/bin:/bin", "VALLE_MIN_FREE_MB": str(10**12)}
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, check=False, timeout=60)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "MB free on the disk of" in lines[0] and "free some space" in lines[0], out.stderr
    assert not (tmp_path / ".venv").exists()
