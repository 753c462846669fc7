"""Great-circle distances on the real globe, so "nearest dealer" means nearest by road-free distance
and not by a flat-map approximation that drifts with latitude."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from math import asin, cos, radians, sin, sqrt
from typing import TypeVar

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
T = TypeVar("T")


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Distance in km between two WGS-84 points (degrees), by the haversine formula."""
    phi1, phi2 = radians(lat1), radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = radians(lng2 - lng1) / 2
    a = sin(half_dphi) ** 2 + cos(phi1) * cos(phi2) * sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_KM * asin(sqrt(min(1.0, a)))  # rounding can push a past 1 near antipodes


def nearest(
    origin: tuple[float, float],
    points: Iterable[T],
    key: Callable[[T], tuple[float, float] | None],
    *,
    within_km: float | None = None,
    limit: int | None = None,
) -> list[tuple[T, float]]:
    """Points with their distance from origin (lat, lng), closest first; points whose key gives no
    coordinates cannot be placed and are left out. Equal distances keep the input order."""
    lat, lng = origin
    found: list[tuple[T, float]] = []
    for point in points:
        coordinates = key(point)
        if coordinates is None:
            continue
        distance = haversine_km(lat, lng, *coordinates)
        if within_km is None or distance <= within_km:
            found.append((point, distance))
    found.sort(key=lambda pair: pair[1])
    return found if limit is None else found[:limit]
