"""The dealer network as routing sees it, cached briefly: it changes rarely and every lead reads it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from drivetrain.org.models import Dealer

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


def _load(session: Session) -> dict[str, DirectoryDealer]:
    dealers = session.scalars(
        select(Dealer).options(selectinload(Dealer.region), selectinload(Dealer.brands))
    )
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
    return loaded


def invalidate() -> None:
    with _lock:
        _cache.clear()
