"""Apply an import profile to raw source rows: each mapped column through its field's normaliser.

Pure (rows in, normalised rows and problems out; no database), so the judgement is tested alone.

Which rows are rejected. A record is worth keeping when it can be tied to a person, so a row is
kept when at least one *identifier* normalises: phone, email, id_number, vin, plate,
wechat_unionid or wecom_external_id. Names (many people are 张伟), addresses and dates identify
nobody. A row whose identifiers are all missing or bad is rejected: every bad field's reason is
reported, then a "rejected: …" line. So is a row whose mapped key column (``external_id``) is empty
or repeats an earlier row's key, and a row with more cells than the header. Bad values in kept rows
are dropped from the normalised form and reported too, so nothing bad passes silently; a VIN typed
with O, Q or I for 0 or 1 is read as the digits when the check digit then agrees, and reported as
corrected.

What happened. A row may also say what happened to its person (``event_type``, ``event_date``,
``amount``, ``expires_on``, ``series``, ``mileage_km``, ``note``); ``event_kind`` reads the kind,
defaulting from the source's type when the row names none, and ``sources.events`` puts it on the
customer's timeline.

The raw row is kept as sent, except the ID number column, which is masked to its last four
characters before anything is stored: only its keyed hash is kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

from drivetrain.kit.masking import mask_tail
from drivetrain.sources import normalizers

TARGET_FIELDS = (
    "external_id",
    "name",
    "phone",
    "email",
    "id_number",
    "vin",
    "plate",
    "address",
    "province",
    "city",
    "wechat_unionid",
    "wecom_external_id",
    "purchase_date",
    "event_type",
    "event_date",
    "amount",
    "expires_on",
    "series",
    "mileage_km",
    "note",
)
IDENTIFIERS = ("phone", "email", "id_number", "vin", "plate", "wechat_unionid", "wecom_external_id")
_IDENTIFIER_OUTPUTS = frozenset(
    {"phone", "email", "id_hash", "vin", "plate", "wechat_unionid", "wecom_external_id"}
)
PERSONAL_FIELDS = frozenset({"name", "phone", "email", "address", "wechat_unionid", "wecom_external_id"})
"""Shown masked to subjects without ``pii:read``; the ID number is never stored whole at all."""
MAX_EXTERNAL_ID_LENGTH = 100
IDENTITY_MAPPING: dict[str, str] = {target: target for target in TARGET_FIELDS}
"""Without a profile, columns named like the target fields are those fields (and a row without an
``external_id`` is keyed by its hash)."""
EXTRA_CELLS = None
"""The key under which a CSV reader puts the cells past the header's width."""
NORMALIZATION_VERSION = 1
"""Raise when a normaliser changes what it makes of a value: every row then imports as "updated"."""
_BLANK = (None, "")
# Built once: json.dumps with options builds an encoder per call, a cost per row.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Problem:
    """A bad or corrected value: ``row`` as the caller numbers rows (file row, or API index)."""

    row: int
    field: str
    value: str
    reason: str


class MappedRow(NamedTuple):
    """A kept row as it is stored: raw and normalised serialised once (a tuple: cheap between processes)."""

    row: int
    external_id: str
    row_hash: str
    raw_json: str
    normalized_json: str

    @property
    def raw(self) -> dict[str, Any]:
        return dict(json.loads(self.raw_json))

    @property
    def normalized(self) -> dict[str, Any]:
        return dict(json.loads(self.normalized_json))


@dataclass
class MappedBatch:
    rows: list[MappedRow] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def reject(self, why: Problem) -> None:
        self.rejected.append(why.row)
        self.problems.append(why)


class KeyLedger:
    """The keys an import has kept so far: a row repeating one is rejected, in whichever batch it comes."""

    def __init__(self) -> None:
        self.first_row: dict[str, int] = {}

    def admit(self, batch: MappedBatch) -> None:
        kept: list[MappedRow] = []
        for row in batch.rows:
            first = self.first_row.setdefault(row.external_id, row.row)
            if first == row.row:
                kept.append(row)
            else:
                reason = f"rejected: repeats the key of row {first}"
                batch.reject(Problem(row.row, "external_id", row.external_id, reason))
        batch.rows = kept


SOURCE_EVENT_KINDS = {
    "dms": "service_visit",
    "erp": "purchase",
    "insurance": "insurance_policy",
    "finance": "finance_contract",
    "used_car": "used_car_appraisal",
    "wecom": "wecom_interaction",
}
"""The event a row of each source type records when it names none (CRM and mini-program rows: none)."""


def event_kind(source_type: str, normalized: Mapping[str, Any]) -> str | None:
    """The kind of event a normalised row records, or None. A DMS row with a purchase date and no
    other date is the purchase; with a visit date it is a service visit."""
    named = normalized.get("event_type")
    if named is not None:
        return str(named)
    if source_type == "dms" and "purchase_date" in normalized and "event_date" not in normalized:
        return "purchase"
    return SOURCE_EVENT_KINDS.get(source_type)


def event_day(kind: str, normalized: Mapping[str, Any]) -> str | None:
    """When the event happened (ISO date): its event date, or for a purchase the purchase date."""
    day = normalized.get("event_date")
    if day is None and kind == "purchase":
        day = normalized.get("purchase_date")
    return None if day is None else str(day)


def check_mapping(mapping: Mapping[str, str]) -> str | None:
    """Why a mapping cannot work, or None. Column names are compared as given."""
    unknown = sorted(set(mapping) - set(TARGET_FIELDS))
    if unknown:
        return f"unknown field {unknown[0]!r}; fields: {', '.join(TARGET_FIELDS)}"
    if not any(target in mapping for target in IDENTIFIERS):
        return f"map at least one identifier ({', '.join(IDENTIFIERS)}): other rows would all be rejected"
    if "external_id" in mapping and mapping.get("id_number") == mapping["external_id"]:
        return "the ID number column cannot be the key: it would be stored whole"
    return None


class Mapper:
    """Normalises rows under one mapping. Batches are independent (they may be mapped in other processes);
    a ``KeyLedger`` catches keys repeated across them."""

    def __init__(
        self,
        mapping: Mapping[str, str],
        *,
        id_key: bytes,
        date_format: str | None = None,
        key_required: bool = True,
    ) -> None:
        """``key_required=False``: a row with an empty key column is keyed by its hash instead of rejected."""
        self.mapping = dict(mapping)
        self.key_required = key_required
        self.key_column = mapping.get("external_id")
        self.id_column = mapping.get("id_number")
        self.address_column = mapping.get("address")
        self.region_columns = [mapping[name] for name in ("province", "city") if name in mapping]
        self.cells: list[tuple[str, str, Callable[[str], dict[str, Any]]]] = [
            (target, mapping[target], normalizer)
            for target, normalizer in _cell_normalizers(id_key, date_format).items()
            if target in mapping
        ]
        # What else decides the normalised form: a changed mapping or normaliser makes rows "updated".
        self.fingerprint = _canonical([NORMALIZATION_VERSION, self.mapping, date_format])

    def map(self, rows: Iterable[tuple[int, Mapping[Any, Any]]]) -> MappedBatch:
        batch = MappedBatch()
        pending: list[tuple[int, dict[str, Any], dict[str, Any], list[Problem], int | None]] = []
        addresses: list[str] = []  # parsed together once the batch is read: cpca is fast in bulk
        for number, row in rows:
            if EXTRA_CELLS in row:
                extra = row[EXTRA_CELLS]
                row = {key: value for key, value in row.items() if key is not EXTRA_CELLS}
                if any(_text(value) for value in extra or ()):
                    reason = "rejected: more cells than the header has columns"
                    batch.reject(Problem(number, "row", "", reason))
                    continue
            if not any(value not in _BLANK for value in row.values()):
                continue  # a blank line
            normalized, problems = self._cells(number, row)
            address = self._address(number, row, problems)
            pending.append((number, dict(row), normalized, problems, len(addresses) if address else None))
            if address:
                addresses.append(address)
        parsed = normalizers.addresses(addresses)
        for number, raw, normalized, problems, address_index in pending:
            if address_index is not None:
                normalized.update(parsed[address_index])
            self._finish(batch, number, raw, normalized, problems)
        return batch

    def _cells(self, number: int, row: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
        normalized: dict[str, Any] = {}
        problems: list[Problem] = []
        for target, column, normalizer in self.cells:
            value = row.get(column)
            if value is None or value == "":
                continue
            text = value.strip() if type(value) is str else _text(value)
            if not text:
                continue
            try:
                normalized.update(normalizer(text))
            except ValueError as error:
                problems.append(Problem(number, target, self._shown(target, text), str(error)))
        if normalized.get("vin_corrected"):
            text = _text(row.get(self.mapping["vin"]))
            problems.append(
                Problem(number, "vin", text, f"corrected: {normalizers.vin_correction_note(text)}")
            )
        return normalized, problems

    def _address(self, number: int, row: Mapping[Any, Any], problems: list[Problem]) -> str:
        """Province and city columns complete the address when it does not already name them."""
        address = _text(row.get(self.address_column)) if self.address_column else ""
        head = "".join(
            part
            for part in (_text(row.get(column)) for column in self.region_columns)
            if part and part.rstrip("省市") not in address
        )
        if not head + address:
            return ""
        try:
            return normalizers.clean_address(head + address)
        except ValueError as error:
            problems.append(Problem(number, "address", head + address, str(error)))
            return ""

    def _finish(
        self,
        batch: MappedBatch,
        number: int,
        raw: dict[str, Any],
        normalized: dict[str, Any],
        problems: list[Problem],
    ) -> None:
        batch.problems.extend(problems)
        if self.id_column is not None and _text(raw.get(self.id_column)):
            raw[self.id_column] = mask_tail(_text(raw[self.id_column]))
        if _IDENTIFIER_OUTPUTS.isdisjoint(normalized):
            reason = "no identifier" if not problems else "every identifier is missing or bad"
            batch.reject(Problem(number, "row", "", f"rejected: {reason} ({', '.join(IDENTIFIERS)})"))
            return
        raw_json = _canonical(raw)
        # The ID number's keyed hash stands in for the masked cell, which no longer tells numbers apart.
        material = f"{raw_json}\n{normalized.get('id_hash', '')}"
        external_id, key_problem = self._external_id(number, raw, material)
        if key_problem is not None:
            batch.reject(key_problem)
            return
        digest = hashlib.sha256(f"{material}\n{self.fingerprint}".encode()).hexdigest()
        normalized_json = _COMPACT.encode(normalized)
        batch.rows.append(MappedRow(number, external_id, digest, raw_json, normalized_json))

    def _external_id(self, number: int, raw: dict[str, Any], material: str) -> tuple[str, Problem | None]:
        """The key column's value, or a hash of the row as stored."""
        key = _text(raw.get(self.key_column)) if self.key_column is not None else ""
        if not key:
            if self.key_required and self.key_column is not None:
                return "", Problem(number, "external_id", "", "rejected: the key column is empty")
            key = "sha256:" + hashlib.sha256(material.encode()).hexdigest()[:40]
        elif len(key) > MAX_EXTERNAL_ID_LENGTH:
            reason = f"rejected: the key is longer than {MAX_EXTERNAL_ID_LENGTH} characters"
            return "", Problem(number, "external_id", key[:40], reason)
        return key, None

    def _shown(self, target: str, text: str) -> str:
        """The value as a problem report may show it: never a whole ID number."""
        return mask_tail(text) if target == "id_number" else text


def _cell_normalizers(id_key: bytes, date_format: str | None) -> dict[str, Callable[[str], dict[str, Any]]]:
    return {
        "name": normalizers.name,
        "phone": normalizers.phone,
        "email": normalizers.email,
        "id_number": partial(normalizers.id_number, key=id_key),
        "vin": normalizers.vin,
        "plate": normalizers.plate,
        "wechat_unionid": normalizers.wechat_unionid,
        "wecom_external_id": normalizers.wecom_external_id,
        "purchase_date": partial(normalizers.purchase_date, date_format=date_format),
        "event_type": normalizers.event_type,
        "event_date": partial(normalizers.event_date, date_format=date_format),
        "amount": normalizers.amount,
        "expires_on": partial(normalizers.expires_on, date_format=date_format),
        "series": normalizers.series,
        "mileage_km": normalizers.mileage_km,
        "note": normalizers.note,
    }


def _text(value: Any) -> str:
    """A cell as trimmed text: JSON numbers and booleans too, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value).strip()


def _canonical(value: Any) -> str:
    return _CANONICAL.encode(value)
