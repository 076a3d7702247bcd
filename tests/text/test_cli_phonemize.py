"""`valle phonemize`: tokens on stdout, one-line errors with exit code 2."""

from __future__ import annotations

import io

import pytest

from tests.text.conftest import needs_espeak
from valle.cli import main


@needs_espeak
def test_prints_reference_tokens(capsys):
    assert main(["phonemize", "--no-normalize", "The two parties, the sheep."]) == 0
    assert capsys.readouterr().out == "ð ə _ t uː _ p ɑːɹ ɾ i z , _ ð ə _ ʃ iː p .\n"


@needs_espeak
def test_normalizes_by_default(capsys):
    assert main(["phonemize", "--show-text", "Dr. Who, 2 cats"]) == 0
    text, tokens = capsys.readouterr().out.rstrip("\n").split("\t")
    assert text == "Doctor Who, two cats"
    assert tokens.startswith("d ɑː k t ɚ _ h uː , _ t uː _")


def test_pinyin_backend_several_texts_and_stdin(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("长大了\n"))
    assert main(["phonemize", "--backend", "pypinyin", "你好。", "-"]) == 0
    assert capsys.readouterr().out == "ni3 - hao3 - 。\nzhang3 - da4 - le5\n"


def test_an_empty_stdin_line_keeps_its_place(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("长大了\n\n你好\n"))
    assert main(["phonemize", "--backend", "pypinyin", "-"]) == 0
    assert capsys.readouterr().out == "zhang3 - da4 - le5\n\nni3 - hao3\n"


def _exit_code(argv: list[str]) -> int:
    """The process exit code: argparse errors exit via SystemExit, library errors return it."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code or 0)


@needs_espeak
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--language", "xx-yy", "hi"], "valle phonemize: error: espeak-ng has no language 'xx-yy'"),
        (["--backend", "festival", "hi"], "invalid choice: 'festival'"),
        (["hi", "  "], "valle phonemize: error: text 2 of the command line is empty; give something to phonemize"),
    ],
)
def test_errors_are_one_line_exit_2(capsys, argv, message):
    assert _exit_code(["phonemize", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
