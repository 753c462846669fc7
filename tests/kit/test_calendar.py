from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivetrain.kit.calendar import (
    DayKind,
    WorkingHours,
    add_business_time,
    business_time_between,
    day_kind,
    is_open,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CST = timezone(timedelta(hours=8))

WEEKDAY_HOURS = ["08:30", "18:00"]
MON_FRI = {
    "mon": WEEKDAY_HOURS,
    "tue": WEEKDAY_HOURS,
    "wed": WEEKDAY_HOURS,
    "thu": WEEKDAY_HOURS,
    "fri": WEEKDAY_HOURS,
}
EVERY_DAY = {name: ["09:00", "17:00"] for name in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def hours_of(days: dict[str, Any], policy: str = "closed", tz: str = "Asia/Shanghai") -> WorkingHours:
    parsed = WorkingHours.from_json({"timezone": tz, "days": days, "public_holidays": policy})
    assert parsed is not None
    return parsed


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """A Shanghai wall time as the UTC instant the project stores (UTC+8, no DST)."""
    return datetime(y, mo, d, h, mi, s, tzinfo=SHANGHAI).astimezone(UTC)


MON_FRI_CLOSED = hours_of(MON_FRI)
MON_FRI_OPEN = hours_of(MON_FRI, policy="open")


# --- the official calendar, as chinese_calendar reports it ---------------------------------------------


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (date(2026, 10, 1), DayKind.HOLIDAY),  # National Day, Thursday
        (date(2026, 10, 3), DayKind.HOLIDAY),  # National Day falling on a Saturday
        (date(2026, 10, 7), DayKind.HOLIDAY),
        (date(2026, 10, 8), DayKind.REGULAR),
        (date(2026, 9, 20), DayKind.MAKEUP),  # Sunday worked for National Day
        (date(2026, 10, 10), DayKind.MAKEUP),  # Saturday worked for National Day
        (date(2026, 10, 11), DayKind.REGULAR),  # ordinary Sunday
        (date(2026, 2, 14), DayKind.MAKEUP),  # Saturday worked for Spring Festival
        (date(2026, 2, 16), DayKind.HOLIDAY),  # Spring Festival, Monday
        (date(2026, 3, 10), DayKind.REGULAR),
        (date(2027, 10, 1), DayKind.REGULAR),  # no data for 2027: fallback, no crash
        (date(2003, 10, 1), DayKind.REGULAR),  # no data for 2003 either
    ],
)
def test_day_kind(day: date, kind: DayKind) -> None:
    assert day_kind(day) is kind


# --- add_business_time, table-driven -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hours", "start", "duration", "due"),
    [
        (
            "17:50 lead, 15 min SLA, due 08:35 next day",
            MON_FRI_CLOSED,
            local(2026, 3, 10, 17, 50),
            timedelta(minutes=15),
            local(2026, 3, 11, 8, 35),
        ),
        (
            "Friday 17:50 rolls over the weekend",
            MON_FRI_CLOSED,
            local(2026, 3, 13, 17, 50),
            timedelta(minutes=15),
            local(2026, 3, 16, 8, 35),
        ),
        (
            "before opening the clock starts at opening",
            MON_FRI_CLOSED,
            local(2026, 3, 10, 6, 0),
            timedelta(minutes=15),
            local(2026, 3, 10, 8, 45),
        ),
        (
            "ending exactly at closing time returns closing time",
            MON_FRI_CLOSED,
            local(2026, 3, 10, 17, 50),
            timedelta(minutes=10),
            local(2026, 3, 10, 18, 0),
        ),
        (
            "seconds-level durations",
            MON_FRI_CLOSED,
            local(2026, 3, 10, 17, 59, 30),
            timedelta(seconds=45),
            local(2026, 3, 11, 8, 30, 15),
        ),
        (
            "zero duration while open is the start itself",
            MON_FRI_CLOSED,
            local(2026, 3, 10, 10, 0),
            timedelta(0),
            local(2026, 3, 10, 10, 0),
        ),
        (
            "zero duration while closed is the next opening",
            MON_FRI_CLOSED,
            local(2026, 3, 10, 18, 0),
            timedelta(0),
            local(2026, 3, 11, 8, 30),
        ),
        (
            "multi-day: 2 days of 9.5 h from Tuesday 10:00",
            MON_FRI_CLOSED,
            local(2026, 3, 10, 10, 0),
            timedelta(hours=19),
            local(2026, 3, 12, 10, 0),
        ),
        (
            "National Day 2026 (Oct 1-7) closed: Sep 30 17:00 + 2 h jumps to Oct 8",
            MON_FRI_CLOSED,
            local(2026, 9, 30, 17, 0),
            timedelta(hours=2),
            local(2026, 10, 8, 9, 30),
        ),
        (
            "National Day 2026 open: Sep 30 17:00 + 2 h is Oct 1",
            MON_FRI_OPEN,
            local(2026, 9, 30, 17, 0),
            timedelta(hours=2),
            local(2026, 10, 1, 9, 30),
        ),
        (
            "open policy keeps weekends closed: Oct 2 (Fri) 17:00 + 2 h is Oct 5 (Mon)",
            MON_FRI_OPEN,
            local(2026, 10, 2, 17, 0),
            timedelta(hours=2),
            local(2026, 10, 5, 9, 30),
        ),
        (
            "make-up Saturday Oct 10 2026 opens a weekend-closed dealer",
            MON_FRI_CLOSED,
            local(2026, 10, 9, 17, 30),
            timedelta(hours=1),
            local(2026, 10, 10, 9, 0),
        ),
        (
            "make-up Sunday Sep 20 2026 opens a weekend-closed dealer",
            MON_FRI_CLOSED,
            local(2026, 9, 18, 17, 30),
            timedelta(hours=1),
            local(2026, 9, 20, 9, 0),
        ),
        (
            "seven-day dealer, Spring Festival 2026 (Feb 15-23) closed",
            hours_of(EVERY_DAY),
            local(2026, 2, 14, 16, 30),
            timedelta(hours=1),
            local(2026, 2, 24, 9, 30),
        ),
        (
            "seven-day dealer, Spring Festival 2026 open",
            hours_of(EVERY_DAY, policy="open"),
            local(2026, 2, 14, 16, 30),
            timedelta(hours=1),
            local(2026, 2, 15, 9, 30),
        ),
        (
            "lunch break is skipped",
            hours_of({"tue": [["08:30", "12:00"], ["13:30", "18:00"]]}),
            local(2026, 3, 10, 11, 50),
            timedelta(minutes=30),
            local(2026, 3, 10, 13, 50),
        ),
        (
            "started during lunch waits for the afternoon",
            hours_of({"tue": [["08:30", "12:00"], ["13:30", "18:00"]]}),
            local(2026, 3, 10, 12, 30),
            timedelta(minutes=30),
            local(2026, 3, 10, 14, 0),
        ),
        (
            "2026 -> 2027 crossing: New Year 2027 has no data, so Jan 1 is a plain Friday",
            MON_FRI_CLOSED,
            local(2026, 12, 31, 17, 0),
            timedelta(hours=2),
            local(2027, 1, 1, 9, 30),
        ),
        (
            "2027 National Day has no data: ordinary weekdays, no crash",
            MON_FRI_CLOSED,
            local(2027, 9, 30, 17, 0),
            timedelta(hours=2),
            local(2027, 10, 1, 9, 30),
        ),
        (
            "New York dealer across the 2026 spring-forward Sunday",
            hours_of({"fri": ["09:00", "17:00"], "mon": ["09:00", "17:00"]}, tz="America/New_York"),
            datetime(2026, 3, 6, 16, 0, tzinfo=ZoneInfo("America/New_York")),
            timedelta(hours=2),
            datetime(2026, 3, 9, 10, 0, tzinfo=ZoneInfo("America/New_York")),
        ),
    ],
)
def test_add_business_time(
    name: str, hours: WorkingHours, start: datetime, duration: timedelta, due: datetime
) -> None:
    result = add_business_time(start, duration, hours)
    assert result == due, name
    assert result.tzinfo is UTC
    assert business_time_between(start, result, hours) == duration


def test_utc_conversion_of_the_17_50_lead() -> None:
    # 17:50 in Shanghai is 09:50 UTC; 08:35 next day in Shanghai is 00:35 UTC.
    due = add_business_time(datetime(2026, 3, 10, 9, 50, tzinfo=UTC), timedelta(minutes=15), MON_FRI_CLOSED)
    assert due == datetime(2026, 3, 11, 0, 35, tzinfo=UTC)
    assert due.tzinfo is UTC
    assert due.astimezone(SHANGHAI).replace(tzinfo=None) == datetime(2026, 3, 11, 8, 35)


def test_any_aware_input_offset_is_accepted() -> None:
    utc_start = datetime(2026, 3, 10, 9, 50, tzinfo=UTC)
    for start in (utc_start, utc_start.astimezone(CST), utc_start.astimezone(SHANGHAI)):
        assert add_business_time(start, timedelta(minutes=15), MON_FRI_CLOSED) == datetime(
            2026, 3, 11, 0, 35, tzinfo=UTC
        )


@pytest.mark.parametrize(
    "duration", [timedelta(0), timedelta(microseconds=1), timedelta(minutes=15), timedelta(days=400)]
)
def test_twenty_four_seven_is_plain_addition(duration: timedelta) -> None:
    start = datetime(2026, 10, 1, 3, 0, tzinfo=CST)
    result = add_business_time(start, duration, None)
    assert result == start + duration
    assert result.tzinfo is UTC
    assert business_time_between(start, result, None) == duration
    assert is_open(start, None)


def test_empty_json_means_twenty_four_seven() -> None:
    assert WorkingHours.from_json(None) is None
    assert WorkingHours.from_json({}) is None


def test_long_duration_over_the_whole_holiday_year() -> None:
    # 250 Mon-Fri days of 9.5 h: the answer must land on an open instant and round-trip exactly.
    start = local(2026, 1, 1, 0, 0)
    duration = timedelta(hours=9.5 * 250)
    due = add_business_time(start, duration, MON_FRI_CLOSED)
    assert local(2026, 12, 1) < due < local(2027, 3, 1)
    assert business_time_between(start, due, MON_FRI_CLOSED) == duration


def test_never_open_dealer_raises() -> None:
    never = WorkingHours(timezone="Asia/Shanghai", days=((),) * 7)
    with pytest.raises(ValueError, match="never open"):
        add_business_time(local(2026, 3, 10, 10), timedelta(minutes=1), never)
    assert business_time_between(local(2026, 1, 1), local(2027, 6, 1), never) == timedelta(0)
    assert not is_open(local(2026, 3, 10, 10), never)


def test_negative_duration_raises() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_business_time(local(2026, 3, 10, 10), timedelta(seconds=-1), MON_FRI_CLOSED)


@pytest.mark.parametrize("hours", [None, MON_FRI_CLOSED])
def test_naive_datetimes_raise(hours: WorkingHours | None) -> None:
    naive = datetime(2026, 3, 10, 10, 0)
    aware = local(2026, 3, 10, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(naive, timedelta(minutes=1), hours)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_time_between(naive, aware, hours)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_time_between(aware, naive, hours)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(naive, hours)


# --- business_time_between and is_open ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "start", "end", "elapsed"),
    [
        (MON_FRI_CLOSED, local(2026, 3, 13, 17, 0), local(2026, 3, 16, 9, 0), timedelta(hours=1, minutes=30)),
        (MON_FRI_CLOSED, local(2026, 3, 10, 9, 0), local(2026, 3, 10, 8, 0), timedelta(0)),
        (MON_FRI_CLOSED, local(2026, 3, 10, 9, 0), local(2026, 3, 10, 9, 0), timedelta(0)),
        (MON_FRI_CLOSED, local(2026, 3, 10, 19, 0), local(2026, 3, 11, 8, 0), timedelta(0)),
        (MON_FRI_CLOSED, local(2026, 9, 30, 0, 0), local(2026, 10, 9, 0, 0), timedelta(hours=19)),
        (MON_FRI_OPEN, local(2026, 9, 30, 0, 0), local(2026, 10, 9, 0, 0), timedelta(hours=9.5 * 7)),
        (
            hours_of({"tue": [["08:30", "12:00"], ["13:30", "18:00"]]}),
            local(2026, 3, 10, 0, 0),
            local(2026, 3, 11, 0, 0),
            timedelta(hours=8),
        ),
        (
            hours_of({"tue": ["00:00", "24:00"]}, tz="UTC"),
            local(2026, 3, 9),
            local(2026, 3, 12),
            timedelta(hours=24),
        ),
    ],
)
def test_business_time_between(
    hours: WorkingHours, start: datetime, end: datetime, elapsed: timedelta
) -> None:
    assert business_time_between(start, end, hours) == elapsed


@pytest.mark.parametrize(
    ("hours", "at", "expected"),
    [
        (MON_FRI_CLOSED, local(2026, 3, 10, 8, 29, 59), False),
        (MON_FRI_CLOSED, local(2026, 3, 10, 8, 30), True),
        (MON_FRI_CLOSED, local(2026, 3, 10, 17, 59, 59), True),
        (MON_FRI_CLOSED, local(2026, 3, 10, 18, 0), False),
        (MON_FRI_CLOSED, local(2026, 3, 14, 10, 0), False),  # ordinary Saturday
        (MON_FRI_CLOSED, local(2026, 10, 1, 10, 0), False),  # National Day
        (MON_FRI_OPEN, local(2026, 10, 1, 10, 0), True),
        (MON_FRI_CLOSED, local(2026, 10, 10, 10, 0), True),  # make-up Saturday
        (MON_FRI_CLOSED, local(2027, 10, 1, 10, 0), True),  # no 2027 data: a plain Friday
        (hours_of({"tue": [["08:30", "12:00"], ["13:30", "18:00"]]}), local(2026, 3, 10, 12, 30), False),
        (hours_of({"tue": [["08:30", "12:00"], ["13:30", "18:00"]]}), local(2026, 3, 10, 13, 30), True),
    ],
)
def test_is_open(hours: WorkingHours, at: datetime, expected: bool) -> None:
    assert is_open(at, hours) is expected


# --- windows_on: holidays and make-up rules --------------------------------------------------------------


def test_make_up_day_uses_monday_hours_for_a_weekend_closed_dealer() -> None:
    days = dict(MON_FRI, mon=["10:00", "16:00"])
    hours = hours_of(days)
    assert hours.windows_on(date(2026, 10, 10)) == [
        (datetime(2026, 10, 10, 10, 0, tzinfo=SHANGHAI), datetime(2026, 10, 10, 16, 0, tzinfo=SHANGHAI))
    ]
    assert hours.windows_on(date(2026, 10, 17)) == []  # an ordinary Saturday stays closed


def test_make_up_day_keeps_own_hours_when_dealer_opens_that_weekday() -> None:
    hours = hours_of(dict(MON_FRI, sat=["09:00", "15:00"]))
    assert hours.windows_on(date(2026, 10, 10)) == [
        (datetime(2026, 10, 10, 9, 0, tzinfo=SHANGHAI), datetime(2026, 10, 10, 15, 0, tzinfo=SHANGHAI))
    ]


def test_make_up_day_without_monday_hours_uses_first_open_weekday() -> None:
    hours = hours_of({"wed": ["11:00", "12:00"], "thu": ["09:00", "10:00"]})
    assert hours.windows_on(date(2026, 9, 20)) == [
        (datetime(2026, 9, 20, 11, 0, tzinfo=SHANGHAI), datetime(2026, 9, 20, 12, 0, tzinfo=SHANGHAI))
    ]


def test_make_up_day_for_a_weekend_only_dealer_stays_closed() -> None:
    hours = hours_of({"sun": ["09:00", "17:00"]})
    assert hours.windows_on(date(2026, 10, 10)) == []
    assert hours.windows_on(date(2026, 10, 11)) != []


def test_holiday_on_a_weekend_closes_a_weekend_dealer_unless_open_policy() -> None:
    assert hours_of(EVERY_DAY).windows_on(date(2026, 10, 3)) == []
    assert hours_of(EVERY_DAY, policy="open").windows_on(date(2026, 10, 3)) != []


def test_windows_on_split_day_and_midnight_close() -> None:
    hours = hours_of({"tue": [["13:30", "18:00"], ["08:30", "12:00"]], "wed": ["20:00", "24:00"]})
    assert [
        (o.time().isoformat("minutes"), c.time().isoformat("minutes"))
        for o, c in hours.windows_on(date(2026, 3, 10))
    ] == [
        ("08:30", "12:00"),
        ("13:30", "18:00"),
    ]
    assert hours.windows_on(date(2026, 3, 11)) == [
        (datetime(2026, 3, 11, 20, 0, tzinfo=SHANGHAI), datetime(2026, 3, 12, 0, 0, tzinfo=SHANGHAI))
    ]


# --- from_json --------------------------------------------------------------------------------------------


def test_from_json_full_example() -> None:
    hours = WorkingHours.from_json(
        {
            "timezone": "Asia/Shanghai",
            "days": {"mon": ["08:30", "18:00"], "sun": [["09:00", "12:00"], ["13:00", "17:00"]]},
            "public_holidays": "open",
        }
    )
    assert hours == WorkingHours(
        timezone="Asia/Shanghai",
        days=(((510, 1080),), (), (), (), (), (), ((540, 720), (780, 1020))),
        public_holidays="open",
    )


def test_from_json_defaults_and_merges() -> None:
    hours = WorkingHours.from_json(
        {"days": {"mon": [["08:00", "12:00"], ["12:00", "18:00"]], "tue": None, "wed": []}}
    )
    assert hours is not None
    assert hours.timezone == "Asia/Shanghai"
    assert hours.public_holidays == "closed"
    assert hours.days[0] == ((480, 1080),)
    assert hours.days[1] == hours.days[2] == ()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"days": {"mon": ["8h30", "18:00"]}}, 'expected a time as "HH:MM"'),
        ({"days": {"mon": ["08:30", "25:00"]}}, "not a valid time of day"),
        ({"days": {"mon": ["08:60", "18:00"]}}, "not a valid time of day"),
        ({"days": {"mon": ["24:00", "24:00"]}}, "not a valid time of day"),
        ({"days": {"mon": [830, 1800]}}, 'expected a time as "HH:MM"'),
        ({"days": {"mon": ["18:00", "08:30"]}}, "closing time 08:30 must be after opening time 18:00"),
        ({"days": {"mon": ["08:30", "08:30"]}}, "must be after"),
        ({"days": {"mon": [["08:30", "12:00"], ["11:00", "18:00"]]}}, "overlap"),
        ({"days": {"mon": ["08:30"]}}, "expected"),
        ({"days": {"mon": "08:30-18:00"}}, "expected"),
        ({"days": {"mon": [["08:30", "12:00", "13:00"]]}}, "expected"),
        ({"days": {"monday": ["08:30", "18:00"]}}, "unknown weekday key"),
        ({"days": {"Mon": ["08:30", "18:00"]}}, "unknown weekday key"),
        ({"days": ["08:30", "18:00"]}, "keyed by weekday"),
        ({"days": {}}, "no opening hours"),
        ({"timezone": "Asia/Shanghai"}, "missing 'days'"),
        ({"timezone": "Mars/Olympus_Mons", "days": MON_FRI}, "unknown timezone"),
        ({"timezone": "../etc/passwd", "days": MON_FRI}, "unknown timezone"),
        ({"timezone": 8, "days": MON_FRI}, "timezone must be a string"),
        ({"days": MON_FRI, "public_holidays": "sometimes"}, "public_holidays must be"),
        ({"days": MON_FRI, "public_holidays": ""}, "public_holidays must be"),
        ({"days": MON_FRI, "public_holiday": "open"}, "unknown key"),
    ],
)
def test_from_json_rejects(data: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        WorkingHours.from_json(data)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"timezone": "Nowhere/Land", "days": ((),) * 7}, "unknown timezone"),
        ({"timezone": "UTC", "days": ((),) * 6}, "7 entries"),
        ({"timezone": "UTC", "days": (((600, 500),),) + ((),) * 6}, "open < close"),
        ({"timezone": "UTC", "days": (((0, 1441),),) + ((),) * 6}, "open < close"),
        ({"timezone": "UTC", "days": (((0, 60), (60, 120)),) + ((),) * 6}, "must not overlap"),
        ({"timezone": "UTC", "days": ((),) * 7, "public_holidays": "maybe"}, "public_holidays"),
    ],
)
def test_constructor_checks_invariants(kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        WorkingHours(**kwargs)


# --- properties ---------------------------------------------------------------------------------------------

TIMEZONES = ["Asia/Shanghai", "Asia/Urumqi", "UTC", "Europe/Berlin", "America/New_York"]


@st.composite
def day_windows(draw: st.DrawFn) -> list[list[str]]:
    """0-3 sorted, non-touching windows on a 15-minute grid, "24:00" allowed as a close."""
    cuts = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
    if len(cuts) % 2:
        cuts = cuts[:-1]
    return [
        [_hhmm(opens * 15), _hhmm(closes * 15)] for opens, closes in zip(cuts[::2], cuts[1::2], strict=True)
    ]


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def working_hours(draw: st.DrawFn) -> WorkingHours:
    days = {name: draw(day_windows()) for name in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    if not any(days.values()):
        days["wed"] = [["09:00", "17:00"]]
    hours = WorkingHours.from_json(
        {
            "timezone": draw(st.sampled_from(TIMEZONES)),
            "days": days,
            "public_holidays": draw(st.sampled_from(["closed", "open"])),
        }
    )
    assert hours is not None
    return hours


instants = st.datetimes(
    min_value=datetime(2003, 6, 1), max_value=datetime(2028, 6, 1), timezones=st.just(UTC)
)
durations = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(minutes=5)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
)
maybe_hours = st.one_of(st.none(), working_hours())


@settings(max_examples=300, deadline=None)
@given(hours=maybe_hours, start=instants, duration=durations)
def test_round_trip(hours: WorkingHours | None, start: datetime, duration: timedelta) -> None:
    due = add_business_time(start, duration, hours)
    assert due.tzinfo is UTC
    assert due >= start
    assert business_time_between(start, due, hours) == duration


@settings(max_examples=200, deadline=None)
@given(hours=maybe_hours, start=instants, a=durations, b=durations)
def test_add_is_monotonic_and_composes(
    hours: WorkingHours | None, start: datetime, a: timedelta, b: timedelta
) -> None:
    small, large = sorted((a, b))
    assert add_business_time(start, small, hours) <= add_business_time(start, large, hours)
    if small > timedelta(0):
        # Adding in two steps lands in the same place as adding at once.
        middle = add_business_time(start, small, hours)
        assert add_business_time(middle, large, hours) == add_business_time(start, small + large, hours)


@settings(max_examples=200, deadline=None)
@given(hours=maybe_hours, a=instants, b=instants, c=instants)
def test_between_is_additive_and_bounded(
    hours: WorkingHours | None, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    c = min(c, a + timedelta(days=60))
    b = min(b, c)
    whole = business_time_between(a, c, hours)
    assert whole == business_time_between(a, b, hours) + business_time_between(b, c, hours)
    assert timedelta(0) <= whole <= c - a
    assert business_time_between(c, a, hours) == timedelta(0)
    if whole > timedelta(0):
        # The earliest instant with that much open time is no later than c.
        assert add_business_time(a, whole, hours) <= c


@settings(max_examples=200, deadline=None)
@given(hours=maybe_hours, at=instants)
def test_is_open_agrees_with_add(hours: WorkingHours | None, at: datetime) -> None:
    # Open exactly when a zero-length SLA starting now is due now.
    assert is_open(at, hours) == (add_business_time(at, timedelta(0), hours) == at)


@settings(max_examples=100, deadline=None)
@given(start=instants, duration=durations)
def test_always_open_hours_match_twenty_four_seven(start: datetime, duration: timedelta) -> None:
    always = hours_of({name: ["00:00", "24:00"] for name in EVERY_DAY}, "open", "UTC")
    assert add_business_time(start, duration, always) == add_business_time(start, duration, None)


@settings(max_examples=200, deadline=None)
@given(hours=working_hours())
def test_json_round_trip(hours: WorkingHours) -> None:
    assert WorkingHours.from_json(hours.to_json()) == hours


@settings(max_examples=200, deadline=None)
@given(hours=working_hours(), start=instants, duration=durations)
def test_due_time_lies_inside_an_open_window(
    hours: WorkingHours, start: datetime, duration: timedelta
) -> None:
    due = add_business_time(start, duration, hours)
    if duration > timedelta(0):
        # Just before the due instant the dealer was open, so the SLA never expires during closed time.
        assert is_open(due - timedelta(microseconds=1), hours)
    else:
        assert is_open(due, hours)
