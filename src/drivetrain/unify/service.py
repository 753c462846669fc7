"""Identity resolution against the database: link every source record to one customer, keep
the golden records current, and queue what the matcher could not decide for a person.

A run reads every source record and what Drivetrain holds about every live customer (each
pinned to its customer, so existing customers are never merged by the machine), resolves them
with the decisions people made as constraints, then:

- a cluster holding an existing customer's record is that customer; one without gets a new,
  HQ-held customer (its id is its key from then on, so ids stay stable as records arrive);
- each source record whose customer changed is relinked, and its event moved on the timeline;
- every customer who gained or lost a record has their golden record recomputed;
- borderline pairs not seen before join the review queue.

No commit here: the command or the request commits, so a failed run leaves nothing half-done.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers import service as customers
from drivetrain.kit import clock
from drivetrain.kit.errors import Conflict
from drivetrain.kit.ids import new_id
from drivetrain.sources.events import project_source_events
from drivetrain.unify import golden
from drivetrain.unify.config import ResolveConfig
from drivetrain.unify.models import MatchReview, ResolutionRun, ReviewStatus
from drivetrain.unify.repository import CRM_PREFIX, ResolutionRepository, ordered_pair


def run_resolution(session: Session, subject: AuthSubject, config: ResolveConfig) -> ResolutionRun:
    from drivetrain.unify.resolve import connect, resolve  # DuckDB and Splink: only when used

    started = time.perf_counter()
    repository = ResolutionRepository(session)
    run = ResolutionRun(
        id=new_id(),
        engine=config.engine,
        actor_id=subject.user_id or None,
        started_at=clock.now(),
        settings={
            "match_probability": config.match_probability,
            "review_probability": config.review_probability,
        },
        **dict.fromkeys(
            (
                "records",
                "clusters",
                "customers_created",
                "customers_updated",
                "records_moved",
                "review_pairs",
            ),
            0,
        ),
    )
    session.add(run)
    records, previous = repository.resolution_input()
    con = connect(config)
    con.register("resolution_records", records)
    resolution = resolve(
        con, "resolution_records", config, previous=previous, constraints=repository.decisions()
    )
    con.close()
    current = dict(zip(*previous.to_pydict().values(), strict=True))
    keys = dict(zip(*resolution.assignments.to_pydict().values(), strict=True))
    customer_of = _customers_for_keys(session, repository, set(keys.values()), run)
    moves = [
        (record_id, customer_of[key])
        for record_id, key in keys.items()
        if not record_id.startswith(CRM_PREFIX) and current.get(record_id) != customer_of[key]
    ]
    repository.relink(moves)
    session.flush()
    touched = {customer for _, customer in moves} | {
        current[record_id] for record_id, _ in moves if record_id in current
    }
    run.customers_updated = refresh_golden(session, sorted(touched))
    project_source_events(session, [record_id for record_id, _ in moves])
    run.records, run.clusters, run.records_moved = resolution.records, resolution.clusters, len(moves)
    run.review_pairs = _queue_reviews(session, repository, resolution.review.to_pylist(), run)
    run.finished_at = clock.now()
    session.flush()
    audit.record(
        session,
        subject,
        action="identity.resolve",
        entity_type="resolution_run",
        entity_id=run.id,
        changes=audit.diff(
            {},
            {
                "records": run.records,
                "customers_created": run.customers_created,
                "records_moved": run.records_moved,
                "review_pairs": run.review_pairs,
                "seconds": round(time.perf_counter() - started, 2),
            },
        ),
    )
    return run


def _customers_for_keys(
    session: Session, repository: ResolutionRepository, keys: set[str], run: ResolutionRun
) -> dict[str, str]:
    """Customer id per cluster key: an existing customer's id is its own key; any other key
    (a cluster of source records only) becomes a new HQ-held customer."""
    live = repository.live_customer_ids(keys)
    customer_of = {key: key for key in live}
    fresh = sorted(keys - live)
    created = customers.add_resolved_customers(session, len(fresh), name=golden.UNNAMED)
    customer_of |= dict(zip(fresh, created, strict=True))
    run.customers_created = len(keys - live)
    session.flush()
    return customer_of


def refresh_golden(session: Session, customer_ids: Sequence[str]) -> int:
    """Recompute the golden records of these customers; how many changed."""
    repository = ResolutionRepository(session)
    facts = repository.facts_of(list(customer_ids))
    changed = 0
    for customer in repository.customers(list(customer_ids)):
        if customer.merged_into_id is None and golden.recompute(session, customer, facts[customer.id]):
            changed += 1
    session.flush()
    return changed


def _queue_reviews(
    session: Session, repository: ResolutionRepository, pairs: list[dict[str, object]], run: ResolutionRun
) -> int:
    """New borderline pairs join the queue; a pair already queued or decided is left as it is."""
    fresh = {ordered_pair(str(pair["record_id_l"]), str(pair["record_id_r"])): pair for pair in pairs}
    known = repository.known_pairs(fresh)
    for (record_l, record_r), pair in fresh.items():
        if (record_l, record_r) in known:
            continue
        session.add(
            MatchReview(
                record_l=record_l,
                record_r=record_r,
                probability=float(str(pair["match_probability"])),
                reason=str(pair["reason"]),
                status=ReviewStatus.PENDING,
                via="review",
                run_id=run.id,
            )
        )
    session.flush()
    return len(fresh) - len(known)


def ensure_pending(item: MatchReview) -> None:
    if item.status != ReviewStatus.PENDING:
        raise Conflict(f"this pair was decided already ({item.status})")
