"""The dealer network as routing sees it, cached briefly: it changes rarely and every lead reads it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from drivetrain.kit.calendar import WorkingHours
from drivetrain.kit.geo import nearest
from drivetrain.org.repository import DealerRepository

TTL_SECONDS = 60.0


@dataclass(frozen=True)
class DirectoryDealer:
    dealer_id: str
    code: str
    name: str
    region: str
    latitude: float | None
    longitude: float | None
    brands: frozenset[str]
    working_hours: dict[str, Any]


_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[str, DirectoryDealer]]] = {}
_nearby: dict[tuple[int, tuple[float, float], float], Nearby] = {}
_hours: dict[int, WorkingHours | None] = {}


@dataclass(frozen=True)
class Nearby:
    """The dealers geography may choose for a place: those within the radius, and the whole region
    of the nearest one (the fallback pool)."""

    in_radius: frozenset[str]
    region_pool: frozenset[str]


def _load(session: Session) -> dict[str, DirectoryDealer]:
    dealers = DealerRepository(session).network()
    return {
        d.id: DirectoryDealer(
            dealer_id=d.id,
            code=d.code,
            name=d.name,
            region=d.region.name,
            latitude=d.latitude,
            longitude=d.longitude,
            brands=frozenset(b.name for b in d.brands),
            working_hours=dict(d.working_hours or {}),
        )
        for d in dealers
    }


def dealers(session: Session) -> dict[str, DirectoryDealer]:
    key = str(session.get_bind().engine.url)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
        if cached and now - cached[0] < TTL_SECONDS:
            return cached[1]
    loaded = _load(session)
    with _lock:
        _cache[key] = (now, loaded)
        _nearby.clear()  # keyed by the network it was computed on, which is now replaced
        _hours.clear()
    return loaded


def nearby(session: Session, location: tuple[float, float], radius_km: float) -> Nearby:
    """Leads come from a few thousand districts, so the answer is kept per place for as long as
    the network it was computed on."""
    network = dealers(session)
    key = (id(network), location, radius_km)
    with _lock:
        known = _nearby.get(key)
    if known is not None:
        return known
    placed = [d for d in network.values() if d.latitude is not None and d.longitude is not None]
    near = nearest(location, placed, key=lambda d: (d.latitude, d.longitude))  # type: ignore[arg-type, return-value]
    region = near[0][0].region if near else None
    found = Nearby(
        in_radius=frozenset(d.dealer_id for d, km in near if km <= radius_km),
        region_pool=frozenset(d.dealer_id for d in network.values() if region and d.region == region),
    )
    with _lock:
        _nearby[key] = found
    return found


def working_hours(session: Session, dealer_id: str) -> WorkingHours | None:
    """The dealer's parsed opening hours (None: open 24×7, or an unknown dealer), parsed once per load."""
    dealer = dealers(session).get(dealer_id)
    if dealer is None:
        return None
    with _lock:
        if id(dealer) in _hours:
            return _hours[id(dealer)]
    parsed = WorkingHours.from_json(dealer.working_hours)
    with _lock:
        _hours[id(dealer)] = parsed
    return parsed


def invalidate() -> None:
    with _lock:
        _cache.clear()
        _nearby.clear()
        _hours.clear()
