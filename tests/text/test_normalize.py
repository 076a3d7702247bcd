"""English normalization: what new models hear instead of digits and abbreviations."""

from __future__ import annotations

import pytest

from valle.text.english import normalize_english
from valle.text.numbers import cardinal, decimal, expand_numbers, ordinal, year


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It cost $3.50 in 1999.", "It cost three dollars and fifty cents in nineteen ninety nine."),
        ("£1 and €0.99 and $2", "one pound and ninety nine cents and two dollars"),
        ("$1,000,000 or $3.5 million", "one million dollars or three point five million dollars"),
        ("12% and 3.5 %", "twelve percent and three point five percent"),
        ("the 21st, 2nd and 103rd", "the twenty first, second and one hundred third"),
        ("in 2005, 2024 and 1066", "in two thousand five, twenty twenty four and one thousand sixty six"),
        ("the 1990s and the '80s", "the nineteen nineties and the eighties"),
        ("We sold 1,999 units", "We sold one thousand nine hundred ninety nine units"),
        ("at 3:30, 10:05 and 7:00", "at three thirty, ten oh five and seven o'clock"),
        ("pi is 3.14159", "pi is three point one four one five nine"),
        ("-5 degrees, agent 007", "minus five degrees, agent zero zero seven"),
        ("call 555-0123 or #5", "call five hundred fifty five zero one two three or number five"),
        ("mp3 and 3D stay", "mp3 and 3D stay"),
    ],
)
def test_numbers(text, expected):
    assert expand_numbers(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mr. and Mrs. Smith met Dr. Jones.", "Mister and Missus Smith met Doctor Jones."),
        ("He lives on Baker St. near Mulholland Dr.", "He lives on Baker Street near Mulholland Drive."),
        ("St. Louis", "Saint Louis"),
        ("Apples, pears, etc.", "Apples, pears, et cetera."),
        ("Tools etc. are cheap", "Tools et cetera are cheap"),
        ("See e.g. this, i.e. that", "See for example this, that is that"),
        ("The U.S.A. and the U.K. signed.", "The U S A and the U K signed."),
        ("She left the U.S. Then", "She left the U S. Then"),
        ("Meet at 5 p.m. Bring food", "Meet at five p m. Bring food"),
        ("No. 7 on Jan. 5", "number seven on January five"),
        ("Rock & roll", "Rock and roll"),
        ("  lots   of\tspace ", "lots of space"),
        ("Jan. met Jan.", "Jan. met Jan."),  # a month only before a number: names are left alone
    ],
)
def test_abbreviations(text, expected):
    assert normalize_english(text) == expected


def test_american_and_british_readings():
    assert cardinal(105) == "one hundred five"
    assert cardinal(105, american=False) == "one hundred and five"
    assert ordinal(1234) == "one thousand two hundred thirty fourth"
    assert year(1900) == "nineteen hundred" and year(2000) == "two thousand"
    assert decimal("0", "05") == "zero point zero five"


def test_huge_numbers_are_read_digit_by_digit():
    assert expand_numbers("id 12345678901234567") == "id " + " ".join(
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "zero"]
        + ["one", "two", "three", "four", "five", "six", "seven"]
    )


def test_normalized_text_has_no_digits_left():
    text = "On 4th July 1776, 56 men signed; it cost £1,000 (about 0.5%) at 10:30 a.m."
    out = normalize_english(text)
    assert not any(c.isdigit() for c in out), out
    assert out.endswith("ten thirty a m.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Baker St. Then we left.", "Baker Street. Then we left."),
        ("The Dr. Who show", "The Doctor Who show"),
        ("Sentence. Dr. Jones came", "Sentence. Doctor Jones came"),
    ],
)
def test_title_or_street_disambiguation(text, expected):
    assert normalize_english(text) == expected
