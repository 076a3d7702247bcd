"""Token lists must equal lifeiteng/vall-e's, or its checkpoints read gibberish (issue #4)."""

from __future__ import annotations

import pytest

from tests.text.conftest import DATA, load_cases


def _check(tokenizers, case):
    if case["backend"] not in tokenizers:
        pytest.skip("espeak-ng is not installed")
    tok = tokenizers[case["backend"]]
    assert tok.tokenize([case["text"]])[0] == case["tokens"]
    if "phonemized" in case:
        assert tok.phonemize([case["text"]])[0] == case["phonemized"]


def test_shared_reference_cases(reference_dir, reference_tokenizers):
    """Every case the reference produced (shared/reference/tokenizer_cases.json), string and tokens."""
    cases = load_cases(reference_dir / "tokenizer_cases.json")
    assert {c["backend"] for c in cases} == {"espeak", "pypinyin", "pypinyin_initials_finals"}
    for case in cases:
        _check(reference_tokenizers, case)


@pytest.mark.parametrize("case", load_cases(DATA / "extra_reference_cases.json"), ids=lambda c: c["text"][:24])
def test_more_reference_cases(reference_tokenizers, case):
    """English punctuation/quotes/numbers/abbreviations, Mandarin punctuation/polyphones/Latin."""
    _check(reference_tokenizers, case)


def test_batch_equals_one_by_one(reference_dir, reference_tokenizers):
    """A whole batch in one call gives what one call per sentence gives (as the reference tokenized)."""
    texts_by_backend: dict[str, list[str]] = {}
    for case in load_cases(reference_dir / "tokenizer_cases.json") + load_cases(DATA / "extra_reference_cases.json"):
        texts_by_backend.setdefault(case["backend"], []).append(case["text"])
    # phonemizer's own multi-line call loses alignment after an empty or punctuation-only line
    texts_by_backend["espeak"] += ["", "...", "(parenthesis) [x] {y}", "  ", "It cost $3.50 in 1999."]
    texts_by_backend["pypinyin"] += ["", "，。", "你\t好"]
    for backend, texts in texts_by_backend.items():
        if backend not in reference_tokenizers:
            continue
        tok = reference_tokenizers[backend]
        batch = tok.tokenize(texts)
        assert batch == [tok.tokenize([t])[0] for t in texts]
        if "" in texts:
            assert batch[texts.index("")] == []


def test_reference_call_strips_text(reference_tokenizers):
    """The reference tokenizes `text.strip()`; surrounding spaces must not add tokens."""
    tok = reference_tokenizers["pypinyin"]
    assert tok.tokenize(["  你好  "]) == tok.tokenize(["你好"]) == [["ni3", "-", "hao3"]]
