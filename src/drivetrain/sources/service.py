"""Register source systems, save their import profiles, and import their records with lineage.

An import normalises rows in batches and writes each batch in one multi-row statement per kind: a
new key is created, a known key with a different ``row_hash`` is updated (raw and normalised
replaced), the same row again is left alone. So importing a file twice writes nothing the second
time, except the run's own log row. One audit entry per run says who imported what, with the counts.
A large file is normalised in forked worker processes (one per core) while this process writes.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.subject import AuthSubject
from drivetrain.config import get_settings
from drivetrain.kit import clock
from drivetrain.kit.errors import Conflict, InvalidInput
from drivetrain.kit.ids import new_id
from drivetrain.sources.mapping import IDENTITY_MAPPING, KeyLedger, MappedBatch, Mapper, Problem
from drivetrain.sources.models import ImportProfile, ImportRun, ImportVia, Source
from drivetrain.sources.repository import SourceRepository
from drivetrain.sources.schemas import SLUG, ProfileOptions, ProfileWrite, SourceCreate

_RANDOM_CHARACTER = bytes(b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"[byte % 32] for byte in range(256))
"""A random byte as a Crockford base32 character: 256 is 8 times 32, so each stays uniform (5 bits)."""
NumberedRow = tuple[int, Mapping[Any, Any]]
DEFAULT_PROFILE = "default"
BATCH_ROWS = 2000
PARALLEL_FROM_ROWS = 20_000
MAX_WORKERS = 4
STORED_PROBLEMS = 500
"""Problems kept on the run itself; the CLI's error file and the API answer carry all of them."""


@dataclass(frozen=True)
class ResolvedProfile:
    name: str | None
    mapping: dict[str, str]
    options: ProfileOptions


@dataclass(frozen=True)
class ImportOrigin:
    via: ImportVia
    file_name: str | None = None
    file_sha256: str | None = None
    error_file: str | None = None
    """Where the caller writes the problems (recorded on the run when there are any)."""


@dataclass
class ImportResult:
    run: ImportRun
    problems: list[Problem]


def register_source(session: Session, subject: AuthSubject, *, data: SourceCreate) -> Source:
    if SourceRepository(session).name_taken(data.name):
        raise Conflict(f"a source system named {data.name!r} exists already")
    source = Source(name=data.name, type=data.type.value, trust_rank=data.trust_rank)
    session.add(source)
    session.flush()
    audit.record(
        session,
        subject,
        action="source.create",
        entity_type="source_system",
        entity_id=source.id,
        changes=audit.diff({}, {"name": source.name, "type": source.type, "trust_rank": source.trust_rank}),
    )
    return source


def save_profile(
    session: Session, subject: AuthSubject, source: Source, name: str, *, data: ProfileWrite
) -> ImportProfile:
    """Create or replace the source's profile ``name``; ``source`` comes from ``SourceRepository.get``."""
    if not re.fullmatch(SLUG, name):
        raise InvalidInput("name", "a profile name is 2-40 lower-case letters, digits, '-' or '_'")
    profile = SourceRepository(session).profile(source, name)
    before: dict[str, Any] = {}
    if profile is None:
        profile = ImportProfile(source_id=source.id, name=name)
        session.add(profile)
    else:
        before = {"mapping": profile.mapping, "options": profile.options}
    options = data.options.model_dump(exclude_none=True)
    profile.mapping, profile.options = dict(data.mapping), options
    session.flush()
    audit.record(
        session,
        subject,
        action="import_profile.save",
        entity_type="import_profile",
        entity_id=profile.id,
        changes=audit.diff(before, {"mapping": profile.mapping, "options": options}),
    )
    return profile


def resolve_profile(session: Session, source: Source, name: str | None) -> ResolvedProfile:
    """The named profile; without a name, the source's "default" profile or, lacking one, columns
    named like the target fields."""
    repository = SourceRepository(session)
    profile = repository.profile(source, name or DEFAULT_PROFILE)
    if profile is not None:
        return ResolvedProfile(profile.name, profile.mapping, ProfileOptions.model_validate(profile.options))
    if name is None:
        return ResolvedProfile(None, IDENTITY_MAPPING, ProfileOptions())
    known = [p.name for p in repository.profiles([source.id])]
    have = ", ".join(known) or "none"
    raise InvalidInput("profile", f"{source.name} has no profile {name!r}; it has: {have}")


def import_records(
    session: Session,
    subject: AuthSubject,
    source: Source,
    rows: Sequence[NumberedRow],
    *,
    profile: ResolvedProfile,
    origin: ImportOrigin,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> ImportResult:
    """Import numbered rows (file row numbers, or API indexes) of ``source``; see the module docstring.

    ``workers`` > 1 normalises batches in that many forked processes while this one writes (see
    ``workers_for``); the outcome is the same."""
    run = ImportRun(
        id=new_id(),
        source_id=source.id,
        via=origin.via.value,
        file_name=origin.file_name,
        file_sha256=origin.file_sha256,
        profile=profile.name,
        mapping=profile.mapping,
        actor_id=subject.user_id or None,
        started_at=clock.now(),
        **dict.fromkeys(("rows_read", "created", "updated", "unchanged", "rejected", "problems"), 0),
    )
    session.add(run)
    session.flush()
    key = get_settings().secret_key.encode()
    mapper = Mapper(
        profile.mapping,
        id_key=key,
        date_format=profile.options.date_format,
        key_required=profile.name is not None,
    )
    problems: list[Problem] = []
    ledger = KeyLedger()
    for size, batch in _mapped(rows, mapper, workers):
        ledger.admit(batch)
        _store(session, source, run, batch)
        problems.extend(batch.problems)
        if progress is not None:
            progress(size)
    problems.sort(key=lambda problem: problem.row)
    _finish(session, subject, run, problems, origin)
    return ImportResult(run, problems)


def workers_for(rows: int) -> int:
    """Processes worth normalising ``rows`` in: one per core for a large file, none extra for a small one."""
    return min(os.cpu_count() or 1, MAX_WORKERS) if rows >= PARALLEL_FROM_ROWS else 1


def _mapped(rows: Sequence[NumberedRow], mapper: Mapper, workers: int) -> Iterator[tuple[int, MappedBatch]]:
    """(rows in the batch, the mapped batch), in order. Mapping is pure, so worker processes may do it:
    forked, they start with the rows and the normalisers' tables in memory, so only row ranges go to
    them; a few batches run ahead of the writes."""
    starts = range(0, len(rows), BATCH_ROWS)
    if workers <= 1:
        for start in starts:
            chunk = rows[start : start + BATCH_ROWS]
            yield len(chunk), mapper.map(chunk)
        return
    global _worker_job
    _worker_job = (mapper, rows)
    # The rows stay alive throughout: frozen, the collector neither scans them again in this process
    # nor writes to their pages in the workers (which would copy every page of them into each).
    gc.freeze()
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    pending: deque[tuple[int, Future[MappedBatch]]] = deque()
    try:
        for start in starts:
            pending.append((min(BATCH_ROWS, len(rows) - start), pool.submit(_map_in_worker, start)))
            if len(pending) > 2 * workers:
                size, future = pending.popleft()
                yield size, future.result()
        while pending:
            size, future = pending.popleft()
            yield size, future.result()
    finally:
        _worker_job = None
        pool.shutdown(cancel_futures=True)
        gc.unfreeze()


_worker_job: tuple[Mapper, Sequence[NumberedRow]] | None = None
"""What forked workers map: set before the pool starts them."""


def _map_in_worker(start: int) -> MappedBatch:
    assert _worker_job is not None, "workers are forked after the job is set"
    mapper, rows = _worker_job
    return mapper.map(rows[start : start + BATCH_ROWS])


def import_batch(
    session: Session,
    subject: AuthSubject,
    source: Source,
    *,
    profile: str | None,
    records: Sequence[Mapping[str, Any]],
) -> ImportResult:
    """An API batch: records numbered by their index, from 0."""
    resolved = resolve_profile(session, source, profile)
    origin = ImportOrigin(via=ImportVia.API)
    numbered = list(enumerate(records))
    return import_records(session, subject, source, numbered, profile=resolved, origin=origin)


def _store(session: Session, source: Source, run: ImportRun, batch: MappedBatch) -> None:
    """Count each row as created, updated or unchanged, and write the first two."""
    repository = SourceRepository(session)
    stored = repository.stored_hashes(source, [row.external_id for row in batch.rows])
    new = [row for row in batch.rows if row.external_id not in stored]
    changed = [row for row in batch.rows if stored.get(row.external_id, row.row_hash) != row.row_hash]
    now = repository.bound_time(clock.now())
    ids = iter(record_ids(len(new) + len(changed)))
    new_records, changed_records = (
        [
            {
                "id": next(ids),
                "source_id": source.id,
                "external_id": row.external_id,
                "raw": row.raw_json,
                "normalized": row.normalized_json,
                "row_hash": row.row_hash,
                "first_seen_at": now,
                "updated_at": now,
                "last_import_id": run.id,
            }
            for row in rows
        ]
        for rows in (new, changed)
    )
    repository.write_records(new=new_records, changed=changed_records)
    run.created += len(new)
    run.updated += len(changed)
    run.unchanged += len(batch.rows) - len(new) - len(changed)
    run.rows_read += len(batch.rows) + len(batch.rejected)
    run.rejected += len(batch.rejected)


def record_ids(count: int) -> list[str]:
    """``count`` ULIDs of this millisecond at once, ascending (so a batch appends to the indexes on ids):
    the time part (the first 10 characters) is shared, and the 16 random characters (80 bits) of each
    come from one ``os.urandom`` call, mapped byte by byte to characters in C."""
    if count == 0:
        return []
    stamp = new_id()[:10]
    randomness = os.urandom(16 * count).translate(_RANDOM_CHARACTER).decode("ascii")
    return sorted(stamp + randomness[start : start + 16] for start in range(0, 16 * count, 16))


def _finish(
    session: Session, subject: AuthSubject, run: ImportRun, problems: list[Problem], origin: ImportOrigin
) -> None:
    run.finished_at = clock.now()
    run.problems = len(problems)
    run.errors = [
        {"row": p.row, "field": p.field, "value": p.value, "reason": p.reason}
        for p in problems[:STORED_PROBLEMS]
    ]
    run.error_file = origin.error_file if problems else None
    session.flush()
    counts = {
        name: getattr(run, name) for name in ("rows_read", "created", "updated", "unchanged", "rejected")
    }
    audit.record(
        session,
        subject,
        action="source.import",
        entity_type="import_run",
        entity_id=run.id,
        changes=audit.diff({}, {"source_id": run.source_id, "file_name": run.file_name, **counts}),
    )
