"""`split_text`: sentence, clause, word and character cuts under a token budget; pieces rejoin the text."""

from __future__ import annotations

import pytest

from valle.infer import split_text
from valle.infer.text_split import count_characters

LONG = (
    "It was the best of times, it was the worst of times. It was the age of wisdom! Was it the age of "
    "foolishness? It was the epoch of belief; it was the epoch of incredulity, it was the season of Light."
)


@pytest.mark.parametrize("budget", [13, 25, 40, 80, 1000])  # the longest word has 12
def test_pieces_fit_and_rejoin_to_the_text(budget: int) -> None:
    pieces = split_text(LONG, budget)
    assert all(count_characters(p) <= budget for p in pieces)
    assert " ".join(pieces) == LONG


def test_sentence_boundaries_are_preferred() -> None:
    assert split_text(LONG, 60) == [
        "It was the best of times, it was the worst of times.",
        "It was the age of wisdom! Was it the age of foolishness?",
        "It was the epoch of belief;",
        "it was the epoch of incredulity, it was the season of Light.",
    ]


def test_clauses_then_words_then_characters() -> None:
    assert split_text("Alpha beta, gamma delta, epsilon.", 12) == ["Alpha beta,", "gamma delta,", "epsilon."]
    assert split_text("one two three four five six", 9) == ["one two", "three four", "five six"]  # 9 letters max
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_short_text_is_one_piece_and_blank_is_none() -> None:
    assert split_text("  Hello   there.  ", 100) == ["Hello there."]
    assert split_text(" \n ", 10) == []


def test_cjk_sentences_join_without_spaces() -> None:
    text = "今天天气很好。我们去公园吧！好吗？"
    assert split_text(text, 100) == [text]
    assert split_text(text, 10) == ["今天天气很好。", "我们去公园吧！好吗？"]


def test_custom_token_count() -> None:
    assert split_text("a b c. d e. f g h i.", 5, lambda s: len(s.split())) == ["a b c. d e.", "f g h i."]
    with pytest.raises(ValueError, match="max_tokens"):
        split_text("abc", 0)
