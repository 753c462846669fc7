"""Put what source records say happened (a purchase, a service visit, a policy …) on customers' timelines.

Each source record linked to a customer yields at most one timeline event, keyed by the record's id:
a record linked to nobody has none, a relinked record's event moves, a changed record's event changes,
and projecting again changes nothing. Identity resolution links records; this runs after it (and after
merges and unmerges), a chunk of records at a time, in a handful of statements per chunk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from drivetrain.customers.service import TimelineChanges, replace_source_timeline
from drivetrain.kit.clock import CHINA_TZ
from drivetrain.kit.ids import new_id
from drivetrain.sources.mapping import event_day, event_kind
from drivetrain.sources.models import SourceRecord
from drivetrain.sources.repository import SourceRepository

CHUNK = 2000
MAX_SUMMARY_LENGTH = 300
EVENT_LABELS = {
    "purchase": "购车",
    "service_visit": "保养",
    "insurance_policy": "投保",
    "finance_contract": "金融合同",
    "used_car_appraisal": "二手车评估",
    "wecom_interaction": "企微沟通",
}
EXPIRY_LABELS = {"insurance_policy": "保险到期", "finance_contract": "合同到期"}
DETAIL_FIELDS = ("amount", "expires_on", "vin", "series", "mileage_km", "note")
"""Normalised fields copied into the event's detail, beside ``source`` and ``source_type``."""
_EVENT_COLUMNS = ("customer_id", "at", "kind", "summary", "detail")


@dataclass(frozen=True)
class SourceEvent:
    """What a record puts on the timeline (its customer aside)."""

    kind: str
    at: datetime
    summary: str
    detail: dict[str, Any]


def event_of(source_name: str, source_type: str, normalized: Mapping[str, Any]) -> SourceEvent | None:
    """The event a normalised record records, or None when it names no kind or no day. Pure."""
    kind = event_kind(source_type, normalized)
    day = None if kind is None else event_day(kind, normalized)
    if kind is None or day is None:
        return None
    detail: dict[str, Any] = {"source": source_name, "source_type": source_type}
    detail |= {name: normalized[name] for name in DETAIL_FIELDS if normalized.get(name) is not None}
    return SourceEvent(kind, start_of_day(date.fromisoformat(day)), summary_of(kind, detail), detail)


def start_of_day(day: date) -> datetime:
    """Midnight in China, in UTC: a day's events sort as that day on the console."""
    return datetime.combine(day, time(0), tzinfo=CHINA_TZ).astimezone(UTC)


def summary_of(kind: str, detail: Mapping[str, Any]) -> str:
    """One console line: 保养 · 锐界 · dms-hz · ¥1,280 · 保险到期 2027-03-01 · note."""
    parts = [EVENT_LABELS.get(kind, kind)]
    if "series" in detail:
        parts.append(str(detail["series"]))
    parts.append(str(detail["source"]))
    if "amount" in detail:
        parts.append(yuan(float(detail["amount"])))
    if "expires_on" in detail:
        parts.append(f"{EXPIRY_LABELS.get(kind, '到期')} {detail['expires_on']}")
    if "note" in detail:
        parts.append(str(detail["note"]))
    text = " · ".join(parts)
    return text if len(text) <= MAX_SUMMARY_LENGTH else text[: MAX_SUMMARY_LENGTH - 1] + "…"


def yuan(amount: float) -> str:
    return f"¥{amount:,.0f}" if amount == int(amount) else f"¥{amount:,.2f}"


def project_source_events(session: Session, record_ids: Sequence[str] | None = None) -> int:
    """Bring the timeline events of ``record_ids`` (None: every record) in line with the records and
    their links; the number of events created, changed or removed."""
    session.flush()
    changed = 0
    if record_ids is None:
        after = ""
        while True:
            rows = _read(session, SourceRecord.id > after, limit=CHUNK)
            changed += _apply(session, rows)
            if len(rows) < CHUNK:
                return changed
            after = rows[-1].record_id
    ids = sorted(set(record_ids))
    for start in range(0, len(ids), CHUNK):
        changed += _apply(session, _read(session, SourceRecord.id.in_(ids[start : start + CHUNK])))
    return changed


@dataclass(frozen=True)
class _Row:
    record_id: str
    customer_id: str | None
    source_name: str
    source_type: str
    normalized: dict[str, Any]
    event: dict[str, Any] | None
    """The record's current event (id and ``_EVENT_COLUMNS``), if it has one."""


def _read(session: Session, which: ColumnElement[bool], *, limit: int | None = None) -> list[_Row]:
    """The records, their sources and their current events; records linked to nobody and without an
    event have nothing to do and are skipped."""
    rows = []
    found = SourceRepository(session).records_with_events(which, _EVENT_COLUMNS, limit=limit)
    for record_id, customer_id, normalized, name, type_, event_id, *event in found:
        current = (
            None if event_id is None else {"id": event_id, **dict(zip(_EVENT_COLUMNS, event, strict=True))}
        )
        rows.append(_Row(record_id, customer_id, name, type_, dict(normalized or {}), current))
    return rows


def _apply(session: Session, rows: Sequence[_Row]) -> int:
    """Insert, update and delete the chunk's events (through ``customers.service``, whose table the
    timeline is): at most three statements."""
    changes = TimelineChanges()
    for row in rows:
        wanted = _wanted(row)
        if wanted is None:
            if row.event is not None:
                changes.deletes.append(row.event["id"])
        elif row.event is None:
            millis = max(int(wanted["at"].timestamp() * 1000), 0)
            changes.inserts.append({"id": new_id(millis), "source_record_id": row.record_id, **wanted})
        elif any(row.event[column] != wanted[column] for column in _EVENT_COLUMNS):
            changes.updates.append({"id": row.event["id"], **wanted})
    replace_source_timeline(session, changes)
    return len(changes)


def _wanted(row: _Row) -> dict[str, Any] | None:
    if row.customer_id is None:
        return None
    event = event_of(row.source_name, row.source_type, row.normalized)
    if event is None:
        return None
    return {
        "customer_id": row.customer_id,
        "at": event.at,
        "kind": event.kind,
        "summary": event.summary,
        "detail": event.detail,
    }
