"""Shape sources, runs and records for one subject: personal data masked unless the role may see it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.kit.masking import mask_address, mask_name, mask_tail
from drivetrain.kit.phone import mask_phone
from drivetrain.sources.mapping import PERSONAL_FIELDS, Problem
from drivetrain.sources.models import ImportProfile, ImportRun, Source, SourceRecord
from drivetrain.sources.repository import SourceRepository
from drivetrain.sources.schemas import (
    BatchResult,
    ImportRunRead,
    ProfileOptions,
    ProfileRead,
    RecordProblem,
    SourceDetail,
    SourceRead,
    SourceRecordRead,
)

_RAW_MASKS: dict[str, Callable[[str], str]] = {
    "name": mask_name,
    "phone": mask_tail,
    "email": mask_tail,
    "address": mask_address,
    "wechat_unionid": mask_tail,
    "wecom_external_id": mask_tail,
}
_NORMALIZED_MASKS: dict[str, Callable[[str], str]] = {
    "name": mask_name,
    "phone": mask_phone,
    "email": mask_tail,
    "street": lambda street: "****" if street else "",
    "wechat_unionid": mask_tail,
    "wecom_external_id": mask_tail,
}
_NORMALIZED_HIDDEN = frozenset({"name_key"})
"""The pinyin of a whole name says the name."""


def source_read(source: Source) -> SourceRead:
    return SourceRead.model_validate(source, from_attributes=True)


def profile_read(profile: ImportProfile) -> ProfileRead:
    options = ProfileOptions.model_validate(profile.options)
    return ProfileRead(
        name=profile.name, mapping=profile.mapping, options=options, updated_at=profile.updated_at
    )


def source_detail(session: Session, source: Source) -> SourceDetail:
    profiles = [profile_read(p) for p in SourceRepository(session).profiles([source.id])]
    return SourceDetail(**source_read(source).model_dump(), profiles=profiles)


def run_read(run: ImportRun) -> ImportRunRead:
    return ImportRunRead.model_validate(run, from_attributes=True)


def batch_result(run: ImportRun, problems: Sequence[Problem]) -> BatchResult:
    errors = [RecordProblem(index=p.row, field=p.field, value=p.value, reason=p.reason) for p in problems]
    return BatchResult(**run_read(run).model_dump(), errors=errors)


def record_reads(
    session: Session, subject: AuthSubject, records: Sequence[SourceRecord]
) -> list[SourceRecordRead]:
    """Raw beside normalised. Without ``pii:read`` the personal cells are masked: in the raw row, the
    columns the importing run mapped to personal fields."""
    reveal = subject.can(Permission.PII_READ)
    run_ids = {record.last_import_id for record in records if record.last_import_id}
    mappings = {} if reveal else SourceRepository(session).run_mappings(run_ids)
    return [
        SourceRecordRead(
            id=record.id,
            external_id=record.external_id,
            raw=record.raw if reveal else _masked_raw(record.raw, mappings.get(record.last_import_id or "")),
            normalized=record.normalized if reveal else _masked_normalized(record.normalized),
            masked=not reveal,
            row_hash=record.row_hash,
            first_seen_at=record.first_seen_at,
            updated_at=record.updated_at,
            last_import_id=record.last_import_id,
        )
        for record in records
    ]


def _masked_raw(raw: dict[str, Any], mapping: dict[str, str] | None) -> dict[str, Any]:
    """The mapped personal columns masked; every cell, when the mapping is no longer known."""
    if mapping is None:
        return {column: mask_tail(str(value)) if value else value for column, value in raw.items()}
    masked = dict(raw)
    for target in PERSONAL_FIELDS:
        column = mapping.get(target)
        value = masked.get(column) if column is not None else None
        if column is not None and value not in (None, ""):
            masked[column] = _RAW_MASKS[target](str(value))
    return masked


def _masked_normalized(normalized: dict[str, Any]) -> dict[str, Any]:
    masked = {key: value for key, value in normalized.items() if key not in _NORMALIZED_HIDDEN}
    for key, mask in _NORMALIZED_MASKS.items():
        if isinstance(masked.get(key), str):
            masked[key] = mask(masked[key])
    return masked
