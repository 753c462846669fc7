"""A worker sweeper for recounts: work that is redone from the data every few minutes, not claimed
from due rows. A missed run is made up by the next, so only the time of the last run is kept, in
memory: a fresh worker runs on its first pass, and two workers running at once compute the same
result (the job must be safe to repeat)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from drivetrain.db import Database, unit_of_work
from drivetrain.kit import clock

log = logging.getLogger(__name__)


@dataclass
class Periodic:
    """A sweeper (``(db, worker_id) -> rows acted on``) running ``job(session, now)`` in its own
    session, committed at the end, at most once per ``every`` (a long job may commit along the way, as
    a full segment recompute does per chunk); a failure is logged and retried at the next interval."""

    job: Callable[[Session, datetime], int]
    every: timedelta
    what: str
    last_run: datetime | None = None

    def due(self, now: datetime) -> bool:
        """Due when never run, ``every`` has passed, or the clock went back (tests move it)."""
        return self.last_run is None or not self.last_run <= now < self.last_run + self.every

    def __call__(self, db: Database, _worker_id: str) -> int:
        now = clock.now()
        if not self.due(now):
            return 0
        self.last_run = now
        try:
            with unit_of_work(db) as session:
                return self.job(session, now)
        except Exception:
            log.exception("%s failed; retrying in %s", self.what, self.every)
            return 0
