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
from itertools import repeat
from json.encoder import encode_basestring
from operator import itemgetter
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
MEMO_SIZE = 20_000
"""Distinct values a mapper remembers per column; past that it starts again (bounds a worker's memory)."""
NumberedRow = tuple[int, Mapping[Any, Any]]


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
    a ``KeyLedger`` catches keys repeated across them.

    Column by column: each distinct cell value goes through its normaliser once per mapper, that is
    per import (names, dates, cities and series repeat; a person's phone and VIN come back with the
    person), and the answer is kept as the piece of JSON it adds to the normalised row, which is then
    joined rather than encoded. So a date is judged against the day the import first met it."""

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
        self.cells: list[tuple[str, str, _Memo]] = [
            (target, mapping[target], _Memo(partial(_normalize_cell, target, normalizer)))
            for target, normalizer in _cell_normalizers(id_key, date_format).items()
            if target in mapping
        ]
        self.identifying = [target in IDENTIFIERS for target, _, _ in self.cells]
        self.places: dict[tuple[str, ...], _Value] = {}
        self.raw_layouts: dict[tuple[Any, ...], tuple[Callable[[Any], tuple[Any, ...]], str] | None] = {}
        # What else decides the normalised form: a changed mapping or normaliser makes rows "updated".
        self.fingerprint = _canonical([NORMALIZATION_VERSION, self.mapping, date_format])

    def map(self, rows: Iterable[tuple[int, Mapping[Any, Any]]]) -> MappedBatch:
        batch = MappedBatch()
        kept = self._readable(rows, batch)
        for _, _, memo in self.cells:
            _bound(memo)
        columns = [list(map(memo.__getitem__, _column(kept, column))) for _, column, memo in self.cells]
        places = self._places(kept)
        cells_of_rows = zip(*columns, strict=True) if columns else repeat(())
        for (number, row), cells, place in zip(kept, cells_of_rows, places, strict=False):
            self._finish(batch, number, row, cells, place)
        return batch

    def _readable(
        self, rows: Iterable[tuple[int, Mapping[Any, Any]]], batch: MappedBatch
    ) -> list[NumberedRow]:
        """The rows worth mapping: blank lines skipped, rows with more cells than the header rejected."""
        kept: list[NumberedRow] = []
        for number, row in rows:
            if EXTRA_CELLS in row:
                extra = row[EXTRA_CELLS]
                row = {key: value for key, value in row.items() if key is not EXTRA_CELLS}
                if any(_text(value) for value in extra or ()):
                    reason = "rejected: more cells than the header has columns"
                    batch.reject(Problem(number, "row", "", reason))
                    continue
            # A blank line (a truthy cell is never blank: only an all-falsy row needs the exact test).
            if not any(row.values()) and all(value in _BLANK for value in row.values()):
                continue
            kept.append((number, row))
        return kept

    def _places(self, rows: list[NumberedRow]) -> list[_Value]:
        """Each row's address, completed by its province and city columns when it does not name them.

        cpca reads the new ones together (it is fast in bulk), so the memo is filled in two steps."""
        columns = [self.address_column, *self.region_columns] if self.address_column else self.region_columns
        if not columns:
            return [None] * len(rows)
        texts = [_column(rows, column) for column in columns]
        if not self.address_column:
            texts.insert(0, [""] * len(rows))
        keys = list(zip(*texts, strict=True))
        _bound(self.places)
        new = {key: _clean_place(key) for key in set(keys).difference(self.places)}
        fields = iter(normalizers.addresses([text for text in new.values() if isinstance(text, str)]))
        for key, place in new.items():
            self.places[key] = _fragment(next(fields)) if isinstance(place, str) else place
        return list(map(self.places.__getitem__, keys))

    def _finish(
        self,
        batch: MappedBatch,
        number: int,
        row: Mapping[Any, Any],
        cells: tuple[_Value, ...],
        place: _Value,
    ) -> None:
        problems: list[Problem] = []
        notes: list[Problem] = []
        fragments: list[str] = []
        identified = False
        id_cell: _Cell | None = None
        for (target, _, _), identifies, cell in zip(self.cells, self.identifying, cells, strict=True):
            if cell is None:
                continue
            if isinstance(cell, str):  # the usual case: a good value, nothing to report
                fragments.append(cell)
                identified = identified or identifies
                continue
            if target == "id_number":
                id_cell = cell
            if cell.reason:
                problems.append(Problem(number, target, cell.shown, cell.reason))
                continue
            fragments.append(cell.fragment)
            identified = identified or identifies
            if cell.note:
                notes.append(Problem(number, target, cell.shown, cell.note))
        problems.extend(notes)  # after the bad values, as they have always been listed
        if isinstance(place, str):
            fragments.append(place)
        elif place is not None:
            problems.append(Problem(number, "address", place.shown, place.reason))
        batch.problems.extend(problems)
        raw = dict(row)
        if id_cell is not None and self.id_column is not None:
            raw[self.id_column] = id_cell.shown  # masked
        if not identified:
            reason = "no identifier" if not problems else "every identifier is missing or bad"
            batch.reject(Problem(number, "row", "", f"rejected: {reason} ({', '.join(IDENTIFIERS)})"))
            return
        raw_json = self._raw_json(raw)
        # The ID number's keyed hash stands in for the masked cell, which no longer tells numbers apart.
        material = f"{raw_json}\n{id_cell.id_hash if id_cell is not None else ''}"
        external_id, key_problem = self._external_id(number, raw, material)
        if key_problem is not None:
            batch.reject(key_problem)
            return
        digest = hashlib.sha256(f"{material}\n{self.fingerprint}".encode()).hexdigest()
        normalized_json = "{" + ",".join(fragments) + "}"
        batch.rows.append(MappedRow(number, external_id, digest, raw_json, normalized_json))

    def _raw_json(self, raw: dict[Any, Any]) -> str:
        """``_canonical(raw)``, by a template per header when every cell is text (as in any file): the
        cells' JSON strings put in sorted key order, as the encoder would."""
        columns = tuple(raw)
        if columns not in self.raw_layouts:
            self.raw_layouts[columns] = _raw_layout(columns)
        layout = self.raw_layouts[columns]
        if layout is not None:
            cells, template = layout
            try:
                return template % tuple(map(encode_basestring, cells(raw)))
            except TypeError:  # a number, a list, a null: JSON rows may hold them
                pass
        return _canonical(raw)

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


class _Cell(NamedTuple):
    """A value of a column that is bad, or good with more to it than its JSON (a corrected VIN, an ID
    number); a plain good value is just its JSON fragment (see ``_fragment``)."""

    fragment: str
    shown: str
    """The value as a problem report (and, for the ID number, the stored raw row) may show it."""
    reason: str = ""
    """Why the value is bad (then it adds nothing), or empty."""
    note: str = ""
    """A correction to report though the value is kept (a VIN's look-alike letters)."""
    id_hash: str = ""


_Value = str | _Cell | None
"""A column value normalised: its JSON fragment, a ``_Cell``, or None for a blank cell."""


class _Memo(dict[Any, _Value]):
    """Values of one column -> what they normalise to (see ``_Value``), computed on first sight."""

    def __init__(self, compute: Callable[[Any], _Value]) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, key: Any) -> _Value:
        found = self[key] = self.compute(key)
        return found


def _bound(memo: dict[Any, Any]) -> None:
    if len(memo) > MEMO_SIZE:
        memo.clear()


def _column(rows: list[NumberedRow], column: str) -> list[str]:
    """A column's cells, each as the text it is read as (untrimmed text stays as sent: memo keys)."""
    values: list[Any] = [row.get(column) for _, row in rows]
    if set(map(type, values)) <= {str}:
        return values
    return [value if type(value) is str else _text(value) for value in values]


def _normalize_cell(target: str, normalizer: Callable[[str], dict[str, Any]], value: str) -> _Value:
    text = value.strip()
    if not text:
        return None
    shown = mask_tail(text) if target == "id_number" else text  # never a whole ID number
    try:
        output = normalizer(text)
    except ValueError as error:
        return _Cell("", shown, str(error))
    if target == "id_number":
        return _Cell(_fragment(output), shown, id_hash=output["id_hash"])
    if output.get("vin_corrected"):
        return _Cell(_fragment(output), shown, note=f"corrected: {normalizers.vin_correction_note(text)}")
    return _fragment(output)


def _clean_place(key: tuple[str, ...]) -> str | _Cell | None:
    """The cleaned address to parse (headed by the province and city cells when the address does not
    name them), a ``_Cell`` saying why it is no address, or None for none at all."""
    address = key[0].strip()
    parts = (part.strip() for part in key[1:])
    head = "".join(part for part in parts if part and part.rstrip("省市") not in address)
    if not head + address:
        return None
    try:
        return normalizers.clean_address(head + address)
    except ValueError as error:
        return _Cell("", head + address, str(error))


def _raw_layout(columns: tuple[Any, ...]) -> tuple[Callable[[Any], tuple[Any, ...]], str] | None:
    """How a raw row with these columns is written canonically: its cells in sorted key order into a
    template of the keys (None for keys that are not all text: the encoder writes those)."""
    if not columns or not all(type(column) is str for column in columns):
        return None
    order = sorted(columns)
    keys = [encode_basestring(column).replace("%", "%%") + ":%s" for column in order]
    if len(order) == 1:
        return (lambda raw: (raw[order[0]],)), "{" + keys[0] + "}"
    return itemgetter(*order), "{" + ",".join(keys) + "}"


def _fragment(fields: Mapping[str, Any]) -> str:
    """``fields`` as they stand inside the compact JSON object of a row (no field repeats across
    targets, so joining fragments writes what encoding the merged dict would). Text by hand: the
    encoder's set-up costs more than a small dict's encoding."""
    try:
        return ",".join(
            [f"{encode_basestring(name)}:{encode_basestring(value)}" for name, value in fields.items()]
        )
    except TypeError:  # a number or a flag
        return _COMPACT.encode(fields)[1:-1]


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
