"""Query parameters read the same way on every route: a date is YYYY-MM-DD, and a wrong one is a problem naming it."""

from __future__ import annotations

import datetime as dt
import re

from api.http import Request
from pipeline.errors import Problem

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def day(request: Request, name: str, problems: list[Problem], *, default: dt.date | None = None,
        meaning: str = "") -> dt.date | None:
    """The date in `?name=`; missing is `default` (or a problem when there is none), malformed a problem.
    `meaning` says more in the missing-date problem, e.g. " (Europe/Oslo)"."""
    raw = request.query.get(name)
    if not raw:
        if default is None:
            problems.append(Problem(f"{name} is required: a date YYYY-MM-DD{meaning}", field=name, code="missing"))
        return default
    try:
        if not _DATE.match(raw):
            raise ValueError(raw)
        return dt.date.fromisoformat(raw)
    except ValueError:
        problems.append(Problem(f"{name}={raw!r} is not a date YYYY-MM-DD", field=name, code="invalid"))
        return None
