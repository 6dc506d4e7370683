"""NCRONTAB schedules, so timer triggers fire on the same seconds locally as in Azure Functions.

Format (https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#ncrontab-expressions):
``{second} {minute} {hour} {day} {month} {day-of-week}``; five fields means seconds = 0. Each field takes
``*``, values, ``a-b`` ranges, ``/step`` and comma lists; months and weekdays also take English names.
Times are UTC, as on Linux and Flex Consumption plans where ``WEBSITE_TIME_ZONE`` is not supported.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

# (name, lowest, highest, names for lowest.. in order)
_FIELDS = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _WEEKDAYS),  # 7 is Sunday too, as in most crons
)

# A schedule that matches nothing (e.g. "0 0 0 31 2 *") must not loop forever.
_SEARCH_DAYS = 366 * 8


@dataclass(frozen=True)
class Schedule:
    """A parsed NCRONTAB expression; ``next_after`` gives the next firing time in UTC."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday, like .NET's DayOfWeek

    def matches_day(self, day: dt.date) -> bool:
        # NCrontab requires day-of-month AND day-of-week to match (unlike Vixie cron's OR).
        return (
            day.month in self.months
            and day.day in self.days
            and (day.isoweekday() % 7) in self.weekdays
        )

    def next_after(self, after: dt.datetime) -> dt.datetime:
        """The first firing time strictly after ``after`` (naive datetimes are taken as UTC)."""
        if after.tzinfo is None:
            after = after.replace(tzinfo=dt.UTC)
        after = after.astimezone(dt.UTC)
        start = after.replace(microsecond=0) + dt.timedelta(seconds=1)
        day = start.date()
        for offset in range(_SEARCH_DAYS):
            current = day + dt.timedelta(days=offset)
            if not self.matches_day(current):
                continue
            floor = start.time() if offset == 0 else dt.time(0, 0, 0)
            for hour in sorted(self.hours):
                if hour < floor.hour:
                    continue
                for minute in sorted(self.minutes):
                    if (hour, minute) < (floor.hour, floor.minute):
                        continue
                    for second in sorted(self.seconds):
                        if (hour, minute, second) < (floor.hour, floor.minute, floor.second):
                            continue
                        return dt.datetime.combine(
                            current, dt.time(hour, minute, second), tzinfo=dt.UTC
                        )
        raise ValueError(f"NCRONTAB {self.expression!r} never fires within {_SEARCH_DAYS} days")


def parse_schedule(expression: str) -> Schedule:
    """Parse a 6-field (or 5-field) NCRONTAB expression; raises ``ValueError`` naming the bad field."""
    parts = expression.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    if len(parts) != 6:
        raise ValueError(f"NCRONTAB {expression!r} must have 6 fields (or 5), got {len(parts)}")
    values = [_parse_field(part, *spec, expression=expression)
              for part, spec in zip(parts, _FIELDS, strict=True)]
    return Schedule(expression, *values)


def _parse_field(
    text: str, name: str, low: int, high: int, names: tuple[str, ...], *, expression: str
) -> frozenset[int]:
    def number(token: str) -> int:
        lowered = token.lower()
        if lowered in names:
            return low + names.index(lowered)
        if not token.isdigit():
            raise ValueError(f"NCRONTAB {expression!r}: {name} field has {token!r}")
        value = int(token)
        if not low <= value <= high:
            raise ValueError(f"NCRONTAB {expression!r}: {name} {value} outside {low}-{high}")
        return value

    result: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ValueError(f"NCRONTAB {expression!r}: empty list item in {name} field")
        range_part, _, step_part = item.partition("/")
        step = 1
        if step_part:
            if not step_part.isdigit() or int(step_part) == 0:
                raise ValueError(f"NCRONTAB {expression!r}: {name} step {step_part!r}")
            step = int(step_part)
        if range_part == "*":
            first, last = low, high
        elif "-" in range_part:
            a, _, b = range_part.partition("-")
            first, last = number(a), number(b)
            if first > last:
                raise ValueError(f"NCRONTAB {expression!r}: {name} range {range_part!r} runs backwards")
        else:
            first = number(range_part)
            last = high if step_part else first  # "5/15" means from 5 to the end, every 15
        result.update(range(first, last + 1, step))
    if name == "day-of-week" and 7 in result:
        result = (result - {7}) | {0}
    return frozenset(result)
