"""Business time: a dealer's working hours, Chinese public holidays and make-up workdays (调休).

SLAs are computed here and nowhere else. Instants come in as timezone-aware datetimes (naive ones are
refused) and go out as timezone-aware UTC; days and opening hours are reckoned in the dealer's local time.

``hours=None`` everywhere means "open 24×7": business time is plain elapsed time.

Rules, in one place:

* Weekdays missing from ``days`` are closed. Opening windows are half-open ``[open, close)``: a dealer with
  08:30–18:00 is open at 08:30:00 and closed at 18:00:00. ``"24:00"`` may be used as a closing time.
* Statutory holidays (and the weekdays given off in lieu) come from ``chinese_calendar``. With
  ``public_holidays: "closed"`` (the default) the dealer is closed on them; with ``"open"`` they are ordinary
  days with the usual hours for that weekday.
* Make-up workdays (调休, a Saturday or Sunday declared an official workday): a dealer with hours for that
  weekday keeps them; a dealer normally closed that weekday works its Monday hours (the "workday" hours),
  or, if closed on Mondays too, the hours of the first of Tuesday–Friday it opens. Otherwise it stays closed.
* For years ``chinese_calendar`` has no data for (outside 2004–2026 at the time of writing) every date is an
  ordinary day: no statutory holidays and no make-up days.
* Daylight-saving quirks (only for dealers outside China): a window whose local times fall into a gap
  is shortened or dropped, and time is never counted twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from functools import lru_cache
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar  # type: ignore[import-untyped]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIMEZONE = "Asia/Shanghai"
# A dealer closed for this many consecutive days is treated as never open (the longest real closure,
# Spring Festival, is about 9 days).
MAX_CLOSED_DAYS = 370

MINUTES_PER_DAY = 24 * 60
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
_ONE_MICROSECOND = timedelta(microseconds=1)

HolidayPolicy = Literal["closed", "open"]
# Minutes after local midnight: (open, close), 0 <= open < close <= 1440.
Window = tuple[int, int]


class DayKind(Enum):
    """What the official Chinese calendar says about a date."""

    REGULAR = "regular"
    HOLIDAY = "holiday"  # statutory holiday or a weekday given off in lieu
    MAKEUP = "makeup"  # 调休: a weekend day declared a workday


@lru_cache(maxsize=8192)
def day_kind(day: date) -> DayKind:
    """Classify ``day``; years without data are REGULAR so SLAs never crash on a calendar gap."""
    try:
        resting, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return DayKind.REGULAR
    weekend = day.weekday() >= 5
    if resting and (not weekend or name is not None):
        return DayKind.HOLIDAY
    if not resting and weekend:
        return DayKind.MAKEUP
    return DayKind.REGULAR


@dataclass(frozen=True)
class WorkingHours:
    """A dealer's opening hours: per-weekday windows (Monday first) in one IANA timezone.

    Build it with :meth:`from_json` from stored settings; the constructor checks structural invariants
    only (a dealer with no hours at all is representable, SLAs against it raise ValueError).
    """

    timezone: str
    days: tuple[tuple[Window, ...], ...]
    public_holidays: HolidayPolicy = "closed"

    def __post_init__(self) -> None:
        _load_zone(self.timezone)
        if self.public_holidays not in ("closed", "open"):
            raise ValueError(f"public_holidays must be 'closed' or 'open', got {self.public_holidays!r}")
        if len(self.days) != 7:
            raise ValueError(f"days must have 7 entries (Monday first), got {len(self.days)}")
        for name, windows in zip(WEEKDAYS, self.days, strict=True):
            previous_close = -1
            for opens, closes in windows:
                if not 0 <= opens < closes <= MINUTES_PER_DAY:
                    raise ValueError(
                        f"{name}: window {opens}–{closes} must satisfy 0 <= open < close <= 1440"
                    )
                if opens <= previous_close:
                    raise ValueError(f"{name}: windows must be sorted and must not overlap or touch")
                previous_close = closes

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> WorkingHours | None:
        """Parse stored settings; None or ``{}`` means 24×7. Raises ValueError saying what is wrong."""
        if not data:
            return None
        if not isinstance(data, Mapping):
            raise ValueError(f"working hours must be an object, got {type(data).__name__}")
        unknown = sorted(set(data) - {"timezone", "days", "public_holidays"})
        if unknown:
            raise ValueError(f"unknown key(s) {unknown}; allowed: timezone, days, public_holidays")
        timezone = data.get("timezone", DEFAULT_TIMEZONE)
        if not isinstance(timezone, str):
            raise ValueError(f"timezone must be a string, got {timezone!r}")
        policy = data.get("public_holidays")
        policy = "closed" if policy is None else policy
        if policy not in ("closed", "open"):
            raise ValueError(f"public_holidays must be 'closed' or 'open', got {policy!r}")
        if "days" not in data:
            raise ValueError("missing 'days': give at least one weekday's opening hours")
        days = data["days"]
        if not isinstance(days, Mapping):
            raise ValueError(f"days must be an object keyed by weekday, got {type(days).__name__}")
        bad_keys = sorted(str(key) for key in days if key not in WEEKDAYS)
        if bad_keys:
            raise ValueError(f"unknown weekday key(s) {bad_keys}; use {', '.join(WEEKDAYS)}")
        parsed = tuple(_parse_day(name, days.get(name)) for name in WEEKDAYS)
        if not any(parsed):
            raise ValueError("days has no opening hours on any weekday")
        return cls(timezone=timezone, days=parsed, public_holidays=cast(HolidayPolicy, policy))

    def to_json(self) -> dict[str, Any]:
        """The stored shape, accepted back by :meth:`from_json`."""
        days: dict[str, Any] = {}
        for name, windows in zip(WEEKDAYS, self.days, strict=True):
            if len(windows) == 1:
                days[name] = [_format_hhmm(windows[0][0]), _format_hhmm(windows[0][1])]
            elif windows:
                days[name] = [[_format_hhmm(opens), _format_hhmm(closes)] for opens, closes in windows]
        return {"timezone": self.timezone, "days": days, "public_holidays": self.public_holidays}

    @property
    def zone(self) -> ZoneInfo:
        return _load_zone(self.timezone)

    def local_windows(self, day: date) -> tuple[Window, ...]:
        """Opening windows (minutes) for a local date once holidays and make-up days are applied."""
        kind = day_kind(day)
        own = self.days[day.weekday()]
        if kind is DayKind.HOLIDAY and self.public_holidays == "closed":
            return ()
        if kind is DayKind.MAKEUP and not own:
            return next((hours for hours in self.days[:5] if hours), ())
        return own

    def windows_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """That local day's open windows as aware datetimes in the dealer's timezone."""
        return [
            (_at_minute(day, opens, self.zone), _at_minute(day, closes, self.zone))
            for opens, closes in self.local_windows(day)
        ]

    def utc_windows_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """:meth:`windows_on` in UTC, empty (DST gap) windows dropped."""
        converted = (
            (opens.astimezone(UTC), closes.astimezone(UTC)) for opens, closes in self.windows_on(day)
        )
        return [(opens, closes) for opens, closes in converted if opens < closes]


def add_business_time(start: datetime, duration: timedelta, hours: WorkingHours | None) -> datetime:
    """The UTC instant by which ``duration`` of open time has elapsed since ``start``.

    Outside opening hours the clock starts at the next opening; a zero duration therefore yields ``start``
    when open and the next opening otherwise. Ending exactly at closing time returns the closing instant.
    """
    start = _to_utc(start, "start")
    if duration < timedelta(0):
        raise ValueError(f"duration must not be negative, got {duration}")
    if hours is None:
        return start + duration
    remaining = duration
    for opens, closes in _open_intervals(hours, start, None):
        if remaining <= closes - opens:
            return opens + remaining
        remaining -= closes - opens
    raise AssertionError("unreachable: _open_intervals without an end never stops")  # pragma: no cover


def business_time_between(start: datetime, end: datetime, hours: WorkingHours | None) -> timedelta:
    """Open time elapsed in ``[start, end)``; zero when ``end <= start``."""
    start, end = _to_utc(start, "start"), _to_utc(end, "end")
    if end <= start:
        return timedelta(0)
    if hours is None:
        return end - start
    total = timedelta(0)
    for opens, closes in _open_intervals(hours, start, end):
        total += closes - opens  # already clipped to end
    return total


def is_open(at: datetime, hours: WorkingHours | None) -> bool:
    """Whether the dealer is open at ``at``: the instant right after it counts as business time."""
    at = _to_utc(at, "at")
    return business_time_between(at, at + _ONE_MICROSECOND, hours) > timedelta(0)


def _open_intervals(
    hours: WorkingHours, start: datetime, end: datetime | None
) -> Iterator[tuple[datetime, datetime]]:
    """Open UTC intervals from ``start`` on, in order and never overlapping.

    Shared by add and between so the two always agree. With ``end`` it stops at ``end``; without, it
    raises ValueError after MAX_CLOSED_DAYS closed days in a row.
    """
    cursor = start
    day = start.astimezone(hours.zone).date() - timedelta(days=1)
    last_day = end.astimezone(hours.zone).date() + timedelta(days=1) if end is not None else None
    closed_days = 0
    while last_day is None or day <= last_day:
        opened = False
        for opens, closes in hours.utc_windows_on(day):
            opens = max(opens, cursor)
            if end is not None:
                closes = min(closes, end)
            if closes <= opens:
                continue
            opened = True
            yield opens, closes
            cursor = closes
        closed_days = 0 if opened else closed_days + 1
        if last_day is None and closed_days > MAX_CLOSED_DAYS:
            raise ValueError(f"dealer is never open in the {MAX_CLOSED_DAYS} days after {start.isoformat()}")
        day += timedelta(days=1)


def _to_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown timezone {name!r}") from exc


def _at_minute(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """Local wall time ``minute`` after midnight of ``day``; 1440 is the next midnight."""
    if minute == MINUTES_PER_DAY:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)


def _parse_hhmm(text: Any, where: str, *, closing: bool) -> int:
    """``"HH:MM"`` to minutes after midnight; ``"24:00"`` only as a closing time."""
    match = _HHMM.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f'{where}: expected a time as "HH:MM", got {text!r}')
    hour, minute = int(match.group(1)), int(match.group(2))
    if closing and (hour, minute) == (24, 0):
        return MINUTES_PER_DAY
    if hour > 23 or minute > 59:
        raise ValueError(f"{where}: {text!r} is not a valid time of day")
    return hour * 60 + minute


def _format_hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _is_pair_like(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _parse_day(name: str, value: Any) -> tuple[Window, ...]:
    """One weekday: ``[open, close]``, a list of such pairs, or null/``[]`` for closed."""
    if value is None:
        return ()
    shape = f'days.{name}: expected ["HH:MM", "HH:MM"] or a list of such pairs'
    if not _is_pair_like(value):
        raise ValueError(f"{shape}, got {value!r}")
    if len(value) == 2 and not any(_is_pair_like(part) for part in value):
        pairs: Sequence[Any] = [value]
    else:
        pairs = value
    windows: list[Window] = []
    for pair in pairs:
        if not _is_pair_like(pair) or len(pair) != 2:
            raise ValueError(f"{shape}, got {value!r}")
        opens = _parse_hhmm(pair[0], f"days.{name}", closing=False)
        closes = _parse_hhmm(pair[1], f"days.{name}", closing=True)
        if closes <= opens:
            raise ValueError(f"days.{name}: closing time {pair[1]} must be after opening time {pair[0]}")
        windows.append((opens, closes))
    windows.sort()
    merged: list[Window] = []
    for opens, closes in windows:
        if merged and opens < merged[-1][1]:
            earlier = f"{_format_hhmm(merged[-1][0])}–{_format_hhmm(merged[-1][1])}"
            later = f"{_format_hhmm(opens)}–{_format_hhmm(closes)}"
            raise ValueError(f"days.{name}: windows {earlier} and {later} overlap")
        if merged and opens == merged[-1][1]:
            merged[-1] = (merged[-1][0], closes)
        else:
            merged.append((opens, closes))
    return tuple(merged)
