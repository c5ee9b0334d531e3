import math

import pytest

from simple_api.errors import InvalidInput
from simple_api.services.sleep import parse_seconds, sleep_for

MAX = 25.0


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("0", 0.0),
        ("1", 1.0),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1.", 1.0),
        ("+3", 3.0),
        ("2e1", 20.0),
        ("2.5E+0", 2.5),
        ("25", 25.0),
        ("0025", 25.0),
        ("-0", 0.0),
        ("1e-400", 0.0),
        ("0.000", 0.0),
    ],
)
def test_accepts_plain_decimal_numbers_within_range(raw, seconds):
    assert parse_seconds(raw, MAX) == seconds


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        " ",
        "hello",
        "-1",
        "-0.001",
        "25.0001",
        "26",
        "1e9",
        "1e400",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "0x10",
        "1_0",
        " 1",
        "1 ",
        "1\n",
        "1,5",
        "1..2",
        "e5",
        ".",
        "+",
        "--1",
        "1e",
        "1e+",
        "\u0661",
        "\u00bd",
        "\U0001d7d9",
        "1" * 33,
        "0" * 40 + "1",
        "1/2",
        "%31",
    ],
)
def test_rejects_everything_else_with_a_reason(raw):
    with pytest.raises(InvalidInput) as caught:
        parse_seconds(raw, MAX)
    assert "seconds must be a number from 0 to 25" in caught.value.message


def test_reason_shows_a_bounded_excerpt_of_the_value():
    with pytest.raises(InvalidInput) as caught:
        parse_seconds("x" * 5000, MAX)
    assert len(caught.value.message) < 120


def test_the_maximum_is_configuration():
    assert parse_seconds("3", 3.0) == 3.0
    with pytest.raises(InvalidInput, match=r"from 0 to 2\.5"):
        parse_seconds("3", 2.5)


def test_sleep_for_sleeps_the_parsed_time_and_echoes_the_value_as_given():
    slept = []
    assert sleep_for("2e1", MAX, sleep=slept.append) == "sleep for 2e1 secs"
    assert slept == [20.0]


def test_sleep_for_really_sleeps():
    import time

    start = time.monotonic()
    assert sleep_for("0.05", MAX) == "sleep for 0.05 secs"
    assert time.monotonic() - start >= 0.05


def test_invalid_input_never_sleeps():
    slept = []
    with pytest.raises(InvalidInput):
        sleep_for("nan", MAX, sleep=slept.append)
    assert slept == [] and not any(math.isnan(s) for s in slept)
