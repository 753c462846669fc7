"""The days a report covers, as the API and the console ask for them: checked, with defaults."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from drivetrain.kit.clock import CHINA_TZ
from drivetrain.kit.errors import InvalidInput

DEFAULT_DAYS = 30
MAX_DAYS = 366
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def report_days(
    first: date | None, last: date | None, *, today: date, names: tuple[str, str]
) -> tuple[date, date]:
    """The asked days; by default the last ``DEFAULT_DAYS`` up to today. ``names`` are the two
    parameters as the caller calls them, so an error names the field that was sent."""
    first_name, last_name = names
    first, last = _in_range(first_name, first), _in_range(last_name, last)
    last = last or today
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidInput(first_name, f"must be on or before {last_name}")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(last_name, f"a report covers at most {MAX_DAYS} days")
    return first, last


def _in_range(name: str, day: date | None) -> date | None:
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(name, f"must lie between {FIRST_DAY} and {LAST_DAY}")
    return day


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """``[start 00:00, the day after end 00:00)`` in China time."""
    return (
        datetime.combine(start, time(), CHINA_TZ),
        datetime.combine(end + timedelta(days=1), time(), CHINA_TZ),
    )


def percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, one decimal; None when there is no whole."""
    return round(100 * part / whole, 1) if whole else None
