"""``drivetrain import dealers FILE``: validate every row, report bad ones by row number, load the rest."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.subject import AuthSubject
from drivetrain.kit.address import parse_addresses
from drivetrain.kit.importing import ImportReport
from drivetrain.org.catalog import ensure_catalog
from drivetrain.org.models import DEFAULT_WORKING_HOURS, Dealer, Region
from drivetrain.org.repository import CatalogRepository, DealerRepository, RegionRepository

DEALER_CODE = re.compile(r"^[A-Z0-9]{3,20}$")
# Mainland China, generously: anything outside is a swapped or broken coordinate.
LAT_RANGE, LNG_RANGE = (3.0, 54.0), (73.0, 136.0)


class DealerRow(BaseModel):
    """One dealer as the network file describes it (JSON keys or CSV headers)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    dealer_code: str
    dealer_name: str = Field(min_length=2)
    region: str = Field(min_length=1)
    area_code: str | None = None
    province: str | None = None
    city: str | None = None
    address: str = Field(min_length=2)
    latitude: float
    longitude: float
    sales_tel: str | None = None
    service_tel: str | None = None

    @field_validator("dealer_code")
    @classmethod
    def _code(cls, value: str) -> str:
        value = value.upper()
        if not DEALER_CODE.match(value):
            raise ValueError("dealer code must be 3-20 letters or digits")
        return value

    @field_validator("latitude")
    @classmethod
    def _latitude(cls, value: float) -> float:
        if not LAT_RANGE[0] <= value <= LAT_RANGE[1]:
            raise ValueError("latitude is outside China")
        return value

    @field_validator("longitude")
    @classmethod
    def _longitude(cls, value: float) -> float:
        if not LNG_RANGE[0] <= value <= LNG_RANGE[1]:
            raise ValueError("longitude is outside China")
        return value


def validate_rows(records: list[dict[str, Any]], report: ImportReport) -> list[DealerRow]:
    """Valid rows in file order; bad and repeated-code rows go to the report (row numbers from 1)."""
    valid: list[DealerRow] = []
    first_seen: dict[str, int] = {}
    for number, record in enumerate(records, start=1):
        try:
            row = DealerRow.model_validate(record)
        except ValidationError as error:
            report.reject(number, error)
            continue
        if row.dealer_code in first_seen:
            report.reject(
                number,
                ValueError(
                    f"duplicate dealer code {row.dealer_code}, first at row {first_seen[row.dealer_code]}"
                ),
                default_field="dealer_code",
            )
            continue
        first_seen[row.dealer_code] = number
        valid.append(row)
    return valid


def _regions(session: Session, names: set[str]) -> dict[str, Region]:
    oem_id = CatalogRepository(session).any_oem_id()
    regions = RegionRepository(session).by_name()
    for name in sorted(names - regions.keys()):
        regions[name] = Region(oem_id=oem_id, name=name)
        session.add(regions[name])
    session.flush()
    return regions


def _dealer_fields(row: DealerRow, region: Region, parsed: Any) -> dict[str, Any]:
    return {
        "name": row.dealer_name,
        "region_id": region.id,
        "area_code": row.area_code or None,
        "address": row.address,
        "province": parsed.province,
        "city": parsed.city,
        "district": parsed.district,
        "adcode": parsed.adcode,
        "latitude": row.latitude,
        "longitude": row.longitude,
        "sales_phone": row.sales_tel or None,
        "service_phone": row.service_tel or None,
    }


def import_dealers(session: Session, actor: AuthSubject, records: list[dict[str, Any]]) -> ImportReport:
    """Create new dealers, update changed ones (matched by code); every dealer sells the OEM's brand."""
    report = ImportReport()
    rows = validate_rows(records, report)
    brand = ensure_catalog(session)
    regions = _regions(session, {row.region for row in rows})
    existing = DealerRepository(session).by_code_with_brands()
    # The file's own province/city lead, so short addresses ("宜兴市…") resolve to the right place.
    parsed = parse_addresses([f"{r.province or ''}{r.city or ''}{r.address}" for r in rows])
    for row, place in zip(rows, parsed, strict=True):
        fields = _dealer_fields(row, regions[row.region], place)
        dealer = existing.get(row.dealer_code)
        if dealer is None:
            dealer = Dealer(
                code=row.dealer_code, working_hours=DEFAULT_WORKING_HOURS, brands=[brand], **fields
            )
            session.add(dealer)
            session.flush()
            audit.record(
                session,
                actor,
                action="dealer.create",
                entity_type="dealer",
                entity_id=dealer.id,
                dealer_id=dealer.id,
                changes=audit.diff({}, fields),
            )
            report.created += 1
            continue
        before = {name: getattr(dealer, name) for name in fields}
        changes = audit.diff(before, fields)
        if not changes:
            report.unchanged += 1
            continue
        for name, value in fields.items():
            setattr(dealer, name, value)
        audit.record(
            session,
            actor,
            action="dealer.update",
            entity_type="dealer",
            entity_id=dealer.id,
            dealer_id=dealer.id,
            changes=changes,
        )
        report.updated += 1
    session.flush()
    return report
