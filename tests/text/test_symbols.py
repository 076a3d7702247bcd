"""SymbolTable: the reference's unique_text_tokens.k2symbols format."""

from __future__ import annotations

import pytest

from valle.errors import DataError, InvalidInputError, MissingFileError
from valle.text import SymbolTable

# What lifeiteng's bin/tokenizer.py writes: k2 SymbolTable(), then add(s) for sorted(unique tokens).
REFERENCE_FILE = "<eps> 0\n, 1\n. 2\n_ 3\nd 4\nh 5\nl 6\noʊ 7\nw 8\nə 9\nɜː 10\n"


def test_from_symbols_writes_the_reference_file(tmp_path):
    tokens = ["h", "ə", "l", "oʊ", ",", "_", "w", "ɜː", "l", "d", ".", "h"]
    table = SymbolTable.from_symbols(tokens)
    path = tmp_path / "unique_text_tokens.k2symbols"
    table.to_file(path)
    assert path.read_text(encoding="utf-8") == REFERENCE_FILE
    assert table["<eps>"] == 0 and table["oʊ"] == 7 and table[10] == "ɜː"


def test_file_round_trip(tmp_path):
    table = SymbolTable.from_str(REFERENCE_FILE)
    table.add("ŋ")
    table.add("zh", 40)  # gaps in ids survive
    path = tmp_path / "sub" / "tokens.k2symbols"
    table.to_file(path)
    back = SymbolTable.from_file(path)
    assert back == table and back.to_str() == table.to_str()
    assert back["ŋ"] == 11 and back["zh"] == 40 and back.add("q") == 41
    assert back.symbols == sorted(["<eps>", ",", ".", "_", "d", "h", "l", "oʊ", "w", "ə", "ɜː", "ŋ", "zh", "q"])
    assert list(back)[:3] == ["<eps>", ",", "."]  # iteration is in id order


def test_reads_tabs_blank_lines_and_custom_eps():
    table = SymbolTable.from_str("\n<blk>\t0\n\na   1\n")
    assert table.eps == "<blk>" and table.symbols == ["<blk>", "a"] and len(table) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<eps> 0\na b\n", "line 2 is 'a b'"),
        ("<eps> 0\na 1 2\n", "line 2"),
        ("<eps> 0\na 1\na 2\n", "'a' appears twice"),
        ("<eps> 0\na 1\nb 1\n", "id 1 is used by both 'a' and 'b'"),
        ("<eps> 0\na -3\n", "negative id"),
    ],
)
def test_malformed_files_fail_with_the_line(text, message):
    with pytest.raises(DataError, match=message):
        SymbolTable.from_str(text, source="x.k2symbols")


def test_missing_file_and_unstorable_symbols(tmp_path):
    with pytest.raises(MissingFileError, match="nope.k2symbols does not exist"):
        SymbolTable.from_file(tmp_path / "nope.k2symbols")
    with pytest.raises(InvalidInputError, match="without spaces"):
        SymbolTable().add("a b")
    with pytest.raises(InvalidInputError):
        SymbolTable().add("")
