"""TextTokenCollater: reference ids, BOS/EOS, padding, unknown symbols."""

from __future__ import annotations

import logging

import pytest
import torch

from valle.errors import InvalidInputError
from valle.text import SymbolTable, TextTokenCollater

TOKENS = ["h", "ə", "l", "oʊ", "_", "w", "ɜː", "d", ","]


@pytest.fixture()
def collater():
    return TextTokenCollater(SymbolTable.from_symbols(TOKENS))


def test_vocab_is_pad_bos_eos_then_sorted_symbols_with_eps(collater):
    assert collater.vocab == ["<pad>", "<bos>", "<eos>"] + sorted([*TOKENS, "<eps>"])
    # spelled out: ',' (0x2c) < '<eps>' (0x3c) < '_' (0x5f) < letters < IPA
    assert collater.vocab[:6] == ["<pad>", "<bos>", "<eos>", ",", "<eps>", "_"]
    assert collater.token2idx["<pad>"] == 0 and collater.token2idx["<bos>"] == 1 and collater.token2idx["<eos>"] == 2
    assert len(collater) == 3 + len(TOKENS) + 1


def test_ids_bos_eos_and_padding(collater):
    ids, lengths = collater([["h", "ə", "l", "oʊ"], ["w", "ɜː", "l", "d", ",", "_", "h"], ["ə"]])
    t = collater.token2idx
    assert ids.dtype == torch.int64 and ids.shape == (3, 9)
    assert lengths.dtype == torch.int32 and lengths.tolist() == [6, 9, 3]
    assert ids[0].tolist() == [1, t["h"], t["ə"], t["l"], t["oʊ"], 2, 0, 0, 0]
    assert ids[2].tolist() == [1, t["ə"], 2] + [0] * 6
    assert collater.decode(ids[1]) == ["w", "ɜː", "l", "d", ",", "_", "h"]


def test_same_numbering_as_the_reference_checkpoint_inputs():
    """shared/reference: text ids 0=<pad>, 1=<bos>, 2=<eos>, phonemes >= 3; x_lens int32 incl. BOS/EOS."""
    collater = TextTokenCollater(SymbolTable.from_symbols(["a"]))
    ids, lengths = collater([["a"], []])
    assert ids.tolist() == [[1, 4, 2], [1, 2, 0]] and lengths.tolist() == [3, 2]  # 3 is <eps>


def test_without_bos_or_eos_the_ids_shift_like_the_reference():
    no_bos = TextTokenCollater(["b", "a"], add_bos=False)
    assert no_bos.vocab == ["<pad>", "<eos>", "a", "b"]
    ids, lengths = no_bos([["a", "b"], ["b"]])
    assert ids.tolist() == [[2, 3, 1], [3, 1, 0]] and lengths.tolist() == [3, 2]
    neither = TextTokenCollater(["a"], add_bos=False, add_eos=False)
    assert neither([["a", "a"]])[0].tolist() == [[1, 1]]


def test_from_symbol_table_path(tmp_path, collater):
    path = tmp_path / "unique_text_tokens.k2symbols"
    SymbolTable.from_symbols(TOKENS).to_file(path)
    assert TextTokenCollater.from_symbol_table(path).vocab == collater.vocab
    assert TextTokenCollater.from_symbol_table(SymbolTable.from_symbols(TOKENS)).vocab == collater.vocab


def test_unknown_symbols_raise_naming_symbols_and_text(collater):
    with pytest.raises(InvalidInputError) as err:
        collater([["h", "ə"], ["h", "ʔ", "ɬ", "ʔ"]], texts=["he", "uh-oh"])
    message = str(err.value)
    assert "'ɬ', 'ʔ'" in message and "'uh-oh'" in message and "unknown='drop'" in message
    assert not isinstance(err.value, KeyError)
    with pytest.raises(InvalidInputError, match="'h ʔ'"):  # without texts, the tokens stand in for the text
        collater([["h", "ʔ"]])


def test_unknown_symbols_dropped_with_a_warning(caplog):
    collater = TextTokenCollater(SymbolTable.from_symbols(TOKENS), unknown="drop")
    with caplog.at_level(logging.WARNING, logger="valle.text.collation"):
        ids, lengths = collater([["h", "ʔ", "ə"]], texts=["h-uh"])
    assert collater.decode(ids[0]) == ["h", "ə"] and lengths.tolist() == [4]
    assert "'ʔ'" in caplog.text and "'h-uh'" in caplog.text


@pytest.mark.parametrize(
    ("symbols", "kwargs", "message"),
    [
        (["a", "a"], {}, "repeated: a"),
        (["a", "<pad>"], {}, "reserved <pad>"),
        (["a"], {"unknown": "ignore"}, "'error' or 'drop'"),
    ],
)
def test_bad_construction(symbols, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        TextTokenCollater(symbols, **kwargs)


def test_bad_batches(collater):
    with pytest.raises(InvalidInputError, match="non-empty"):
        collater([])
    with pytest.raises(InvalidInputError, match="is a string"):
        collater(["hə"])
    with pytest.raises(InvalidInputError, match="1 texts for 2"):
        collater([["h"], ["ə"]], texts=["h"])


def test_end_to_end_with_tokenizer():
    from valle.text import TextTokenizer

    tok = TextTokenizer(backend="pypinyin")
    tokens = tok.tokenize(["你好，世界。", "长大了"])
    collater = TextTokenCollater(SymbolTable.from_symbols(t for seq in tokens for t in seq))
    ids, lengths = collater(tokens)
    assert [collater.decode(row) for row in ids] == tokens
    assert lengths.tolist() == [len(t) + 2 for t in tokens]
