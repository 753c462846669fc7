import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivetrain.kit.geo import EARTH_RADIUS_KM, haversine_km, nearest

LATITUDES = st.floats(min_value=-90, max_value=90, allow_nan=False)
LONGITUDES = st.floats(min_value=-180, max_value=180, allow_nan=False)
POINTS = st.tuples(LATITUDES, LONGITUDES)
TOLERANCE_KM = 1e-3  # float rounding near antipodes, where asin is steep


@pytest.mark.parametrize(
    ("a", "b", "expected_km", "within_km"),
    [
        ((39.9042, 116.4074), (31.2304, 121.4737), 1068, 5),  # Beijing – Shanghai
        ((30.2741, 120.1551), (31.2304, 121.4737), 164, 3),  # Hangzhou – Shanghai
        ((0, 0), (0, 1), 111.195, 0.001),  # one degree along the equator
        ((0, 0), (1, 0), 111.195, 0.001),  # one degree along a meridian
        ((60, 0), (60, 1), 55.6, 0.1),  # meridians converge: half as far at 60°
        ((0, 0), (0, 180), 20015.1, 0.1),  # antipodes: half the circumference
        ((90, 0), (-90, 0), 20015.1, 0.1),  # pole to pole
        ((0, 179.5), (0, -179.5), 111.195, 0.001),  # across the antimeridian
    ],
)
def test_haversine_known_distances(
    a: tuple[float, float], b: tuple[float, float], expected_km: float, within_km: float
) -> None:
    assert haversine_km(*a, *b) == pytest.approx(expected_km, abs=within_km)


@given(POINTS)
def test_haversine_zero_on_same_point(p: tuple[float, float]) -> None:
    assert haversine_km(*p, *p) == 0


@given(POINTS, POINTS)
def test_haversine_symmetric_and_bounded(p: tuple[float, float], q: tuple[float, float]) -> None:
    distance = haversine_km(*p, *q)
    assert distance == haversine_km(*q, *p)
    assert 0 <= distance <= EARTH_RADIUS_KM * math.pi + TOLERANCE_KM


@given(POINTS, POINTS, POINTS)
def test_haversine_triangle_inequality(
    p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]
) -> None:
    assert haversine_km(*p, *r) <= haversine_km(*p, *q) + haversine_km(*q, *r) + TOLERANCE_KM


SHANGHAI = (31.2304, 121.4737)
HANGZHOU = (30.2741, 120.1551)
PLACES: dict[str, tuple[float, float] | None] = {
    "上海": SHANGHAI,
    "杭州": HANGZHOU,
    "苏州": (31.2990, 120.5853),
    "北京": (39.9042, 116.4074),
    "未知": None,
}


@pytest.mark.parametrize(
    ("within_km", "limit", "expected"),
    [
        (None, None, ["上海", "苏州", "杭州", "北京"]),
        (None, 2, ["上海", "苏州"]),
        (200, None, ["上海", "苏州", "杭州"]),
        (100, None, ["上海", "苏州"]),
        (0, None, ["上海"]),
        (200, 0, []),
    ],
)
def test_nearest_sorts_filters_and_limits(
    within_km: float | None, limit: int | None, expected: list[str]
) -> None:
    found = nearest(SHANGHAI, PLACES, PLACES.__getitem__, within_km=within_km, limit=limit)
    assert [name for name, _ in found] == expected


def test_nearest_reports_the_haversine_distance() -> None:
    [(name, distance)] = nearest(SHANGHAI, ["杭州"], PLACES.__getitem__)
    assert name == "杭州"
    assert distance == haversine_km(*SHANGHAI, *HANGZHOU)


@given(POINTS, st.lists(POINTS, max_size=20), st.none() | st.floats(min_value=0, max_value=25_000))
def test_nearest_is_sorted_and_within_radius(
    origin: tuple[float, float], points: list[tuple[float, float]], within_km: float | None
) -> None:
    found = nearest(origin, points, lambda p: p, within_km=within_km)
    distances = [distance for _, distance in found]
    assert distances == sorted(distances)
    if within_km is None:
        assert len(found) == len(points)
    else:
        assert all(distance <= within_km for distance in distances)
        assert len(found) == sum(haversine_km(*origin, *p) <= within_km for p in points)
