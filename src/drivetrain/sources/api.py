"""/api/v1/sources: source systems, their import profiles, record batches, import runs, lineage (HQ data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from drivetrain.auth.deps import SessionDep
from drivetrain.kit.pagination import MAX_LIMIT, Page, page_of
from drivetrain.kit.validators import Text
from drivetrain.sources import presenters, service
from drivetrain.sources.auth import SourceManager, SourceReader
from drivetrain.sources.repository import SourceRepository
from drivetrain.sources.schemas import (
    SLUG,
    BatchResult,
    ImportRunRead,
    ProfileRead,
    ProfileWrite,
    RecordBatch,
    SourceCreate,
    SourceDetail,
    SourceRead,
    SourceRecordRead,
)

router = APIRouter(tags=["sources"])
ProfileName = Annotated[str, Path(pattern=SLUG, description="Profile name (a slug)")]


@router.post("/sources", status_code=201, summary="Register a source system (DMS, ERP, insurer, WeCom …)")
def create_source(body: SourceCreate, subject: SourceManager, session: SessionDep) -> SourceRead:
    return presenters.source_read(service.register_source(session, subject, data=body))


@router.get("/sources", summary="Source systems, by name (HQ)")
def list_sources(subject: SourceReader, session: SessionDep) -> list[SourceRead]:
    return [presenters.source_read(source) for source in SourceRepository(session).all(subject)]


@router.get("/sources/{source_id}", summary="A source system with its import profiles")
def get_source(source_id: str, subject: SourceReader, session: SessionDep) -> SourceDetail:
    source = SourceRepository(session).get_readable(subject, source_id)
    return presenters.source_detail(session, source)


@router.put(
    "/sources/{source_id}/profiles/{name}",
    summary="Create or replace an import profile: target field -> source column, and options",
)
def put_profile(
    source_id: str, name: ProfileName, body: ProfileWrite, subject: SourceManager, session: SessionDep
) -> ProfileRead:
    source = SourceRepository(session).get_readable(subject, source_id)
    return presenters.profile_read(service.save_profile(session, subject, source, name, data=body))


@router.post(
    "/sources/{source_id}/records",
    summary="Import a batch of raw records (up to 5,000): counts, and each bad record's problems by index",
)
def post_records(
    source_id: str, body: RecordBatch, subject: SourceManager, session: SessionDep
) -> BatchResult:
    source = SourceRepository(session).get_readable(subject, source_id)
    result = service.import_batch(session, subject, source, profile=body.profile, records=body.records)
    return presenters.batch_result(result.run, result.problems)


@router.get(
    "/sources/{source_id}/records",
    summary="Lineage: each record as the source sent it beside its normalised form, newest first",
)
def list_records(
    source_id: str,
    subject: SourceReader,
    session: SessionDep,
    external_id: Annotated[
        Text | None, Query(max_length=100, description="The record's key in the source")
    ] = None,
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[SourceRecordRead]:
    repository = SourceRepository(session)
    source = repository.get_readable(subject, source_id)
    rows = repository.records(source, external_id=external_id, cursor=cursor, limit=limit)
    items, next_cursor = page_of(rows, limit=limit, id_of=lambda record: record.id)
    return Page(items=presenters.record_reads(session, subject, items), next_cursor=next_cursor)


@router.get("/sources/{source_id}/imports", summary="Import runs of a source, newest first, with counts")
def list_imports(
    source_id: str,
    subject: SourceReader,
    session: SessionDep,
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[ImportRunRead]:
    repository = SourceRepository(session)
    source = repository.get_readable(subject, source_id)
    rows = repository.runs(source, cursor=cursor, limit=limit)
    items, next_cursor = page_of(rows, limit=limit, id_of=lambda run: run.id)
    return Page(items=[presenters.run_read(run) for run in items], next_cursor=next_cursor)
