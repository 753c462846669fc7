"""API shapes for source systems, import profiles, record batches, import runs and lineage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from drivetrain.kit.validators import Text
from drivetrain.sources.mapping import TARGET_FIELDS, check_mapping
from drivetrain.sources.models import ImportVia, SourceType

MAX_BATCH_RECORDS = 5000
SLUG = r"^[a-z0-9][a-z0-9_-]{1,39}$"
Slug = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
    StringConstraints(pattern=SLUG),
]
ColumnName = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Cell = Annotated[str, StringConstraints(max_length=2000)] | int | float | bool | None
RawRecord = Annotated[dict[ColumnName, Cell], Field(max_length=200)]


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Slug = Field(description="Short slug used by the CLI: dms-hz, picc, wecom")
    type: SourceType
    trust_rank: int = Field(ge=0, le=100, description="When sources disagree about a person, higher wins")


class SourceRead(BaseModel):
    id: str
    name: str
    type: SourceType
    trust_rank: int
    created_at: datetime


class ProfileOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date_format: Text | None = Field(
        default=None, max_length=40, description="strptime format of date columns, e.g. %Y/%m/%d"
    )
    encoding: Literal["utf-8", "gb18030", "gbk"] | None = Field(
        default=None, description="CSV encoding, when detection (UTF-8, else GB18030) is not wanted"
    )
    sheet: Text | None = Field(default=None, max_length=31, description="XLSX sheet (default: the first)")

    @field_validator("date_format")
    @classmethod
    def _reads_back(cls, value: str | None) -> str | None:
        if value is None:
            return None
        probe = datetime(2024, 11, 23)
        try:
            same = datetime.strptime(probe.strftime(value), value).date() == probe.date()
        except ValueError:
            same = False
        if not same:
            raise ValueError("must write and read back a whole date, e.g. %Y/%m/%d or %d.%m.%Y")
        return value


class ProfileWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mapping: dict[str, ColumnName] = Field(
        description=f"Target field -> source column. Fields: {', '.join(TARGET_FIELDS)}", max_length=20
    )
    options: ProfileOptions = Field(default_factory=ProfileOptions)

    @field_validator("mapping")
    @classmethod
    def _mapping(cls, value: dict[str, str]) -> dict[str, str]:
        problem = check_mapping(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class ProfileRead(BaseModel):
    name: str
    mapping: dict[str, str]
    options: ProfileOptions
    updated_at: datetime


class SourceDetail(SourceRead):
    profiles: list[ProfileRead]


class RecordBatch(BaseModel):
    """Raw rows as the source system has them; without ``profile``, keys named like the target fields
    (name, phone, vin …) are those fields, and a profile named "default" is used when the source has one."""

    model_config = ConfigDict(extra="forbid")
    profile: Slug | None = None
    records: list[RawRecord] = Field(min_length=1, max_length=MAX_BATCH_RECORDS)


class RecordProblem(BaseModel):
    index: int = Field(description="Position of the record in the batch, from 0")
    field: str
    value: str
    reason: str


class ImportRunRead(BaseModel):
    id: str
    via: ImportVia
    file_name: str | None
    file_sha256: str | None
    profile: str | None
    started_at: datetime
    finished_at: datetime | None
    rows_read: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    problems: int
    error_file: str | None


class BatchResult(ImportRunRead):
    errors: list[RecordProblem] = Field(description="Every problem: rejected records and dropped values")


class SourceRecordRead(BaseModel):
    id: str
    external_id: str
    raw: dict[str, Any] = Field(description="As the source sent it; an ID number only ever masked")
    normalized: dict[str, Any]
    masked: bool = Field(description="Personal fields are masked: your role may not see them whole")
    row_hash: str
    first_seen_at: datetime
    updated_at: datetime
    last_import_id: str | None
