"""The reference's rule for cutting a phonemized string into tokens."""

from __future__ import annotations

from valle.text.tokens import split_phonemized


def test_phones_words_and_punctuation():
    assert split_phonemized("ð|ə_t|uː_p|ɑːɹ|ɾ|i|z,") == ["ð", "ə", "_", "t", "uː", "_", "p", "ɑːɹ", "ɾ", "i", "z", ","]


def test_unseparated_word_characters_stay_one_token():
    # the reference keeps runs of \w together: pinyin syllables and glued punctuation marks split apart
    assert split_phonemized("ni3-hao3-，“-le4”zi4") == ["ni3", "-", "hao3", "-", "，", "“", "-", "le4", "”", "zi4"]


def test_empty_words_and_strings():
    assert split_phonemized("a__.") == ["a", "_", "_", "."]
    assert split_phonemized("") == []
    assert split_phonemized("_") == ["_"]


def test_whitespace_is_dropped_and_custom_separators():
    assert split_phonemized("a b") == ["a", "b"]
    assert split_phonemized("a/b#c", word_separator="#", phone_separator="/") == ["a", "b", "#", "c"]
