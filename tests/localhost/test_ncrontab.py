"""NCRONTAB parsing and next firing times, as the Functions timer trigger reads them."""

import datetime as dt

import pytest

from bilagsbro.cron import parse_schedule

UTC = dt.UTC


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 */5 * * * *", at(2026, 11, 25, 9, 41, 12), at(2026, 11, 25, 9, 45, 0)),
        ("*/15 * * * * *", at(2026, 11, 25, 9, 41, 45), at(2026, 11, 25, 9, 42, 0)),
        ("0 30 9 * * *", at(2026, 11, 25, 9, 30, 0), at(2026, 11, 26, 9, 30, 0)),  # strictly after
        ("0 0 6 * * 1-5", at(2026, 11, 27, 7, 0, 0), at(2026, 11, 30, 6, 0, 0)),  # Fri 07:00 -> Mon
        ("0 0 6 * * Mon,Wed", at(2026, 11, 25, 7, 0, 0), at(2026, 11, 30, 6, 0, 0)),
        ("0 0 0 1 Jan *", at(2026, 11, 25), at(2027, 1, 1)),
        ("0 0 12 29 2 *", at(2026, 3, 1), at(2028, 2, 29, 12)),  # leap day
        ("5/20 0 0 * * *", at(2026, 1, 1, 0, 0, 6), at(2026, 1, 1, 0, 0, 25)),
        ("0 0 0 * * 7", at(2026, 11, 25), at(2026, 11, 29)),  # 7 is Sunday as well
        ("*/10 * * * *", at(2026, 11, 25, 9, 41, 0), at(2026, 11, 25, 9, 50, 0)),  # 5 fields: no seconds
        ("0 0 2,14 * * *", at(2026, 11, 25, 13, 59, 59, 999999), at(2026, 11, 25, 14)),
    ],
)
def test_next_after(expression: str, after: dt.datetime, expected: dt.datetime) -> None:
    assert parse_schedule(expression).next_after(after) == expected


def test_day_and_weekday_must_both_match() -> None:
    # NCrontab ANDs day-of-month and day-of-week: the 13th that is a Friday.
    assert parse_schedule("0 0 0 13 * Fri").next_after(at(2026, 11, 25)) == at(2027, 8, 13)


def test_naive_datetimes_are_utc() -> None:
    assert parse_schedule("0 0 * * * *").next_after(dt.datetime(2026, 1, 1, 10, 30)) == at(2026, 1, 1, 11)


@pytest.mark.parametrize(
    "expression",
    ["* * * *", "60 * * * * *", "* * 24 * * *", "* * * 0 * *", "* * * * 13 *", "*/0 * * * * *",
     "5-1 * * * * *", "a * * * * *", "1,,2 * * * * *"],
)
def test_bad_expressions_are_rejected(expression: str) -> None:
    with pytest.raises(ValueError, match="NCRONTAB"):
        parse_schedule(expression)


def test_schedule_that_never_fires_is_reported() -> None:
    with pytest.raises(ValueError, match="never fires"):
        parse_schedule("0 0 0 31 2 *").next_after(at(2026, 1, 1))
