"""Chinese addresses → province / city / district + adcode, with cpca's administrative-division data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MUNICIPALITY_CITY = "市辖区"


@dataclass(frozen=True)
class ParsedAddress:
    province: str | None
    city: str | None
    district: str | None
    adcode: str | None
    street: str


@lru_cache(maxsize=1)
def _cpca() -> Any:
    import cpca

    return cpca


def _clean(value: Any) -> str | None:
    if value is None or value != value or str(value).strip() in ("", "None"):  # NaN != NaN
        return None
    return str(value)


def parse_addresses(addresses: list[str]) -> list[ParsedAddress]:
    """Parse many at once (cpca is vectorised; one call per address is slower)."""
    if not addresses:
        return []
    frame = _cpca().transform(addresses)
    parsed = []
    for province, city, district, street, adcode in frame.itertuples(index=False, name=None):
        city = _clean(city)
        parsed.append(
            ParsedAddress(
                province=_clean(province),
                city=_clean(province) if city == MUNICIPALITY_CITY else city,
                district=_clean(district),
                adcode=_clean(adcode),
                street=_clean(street) or "",
            )
        )
    return parsed


@lru_cache(maxsize=20_000)
def parse_address(address: str) -> ParsedAddress:
    """One address; cached, since the same addresses come back (a lead and the customer it creates)."""
    return parse_addresses([address])[0]


def coordinates_of(adcode: str) -> tuple[float, float] | None:
    """(latitude, longitude) of an administrative division's seat, from cpca's table."""
    info = _cpca().ad_2_addr_dict.get(adcode.ljust(12, "0"))
    if info is None or not info.latitude:
        return None
    return float(info.latitude), float(info.longitude)
