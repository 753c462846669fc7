"""The worker: runs every sweeper until nothing is due, then waits a little and looks again.

Deadlines are rows, so a worker that starts after downtime catches up on everything overdue,
oldest first. Several workers may run at once (see jobs/claims.py). Domains register their sweepers
and outbox deliverers in ``jobs.registry``; the worker knows none of them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field

from drivetrain.db import Database, database
from drivetrain.jobs import outbox, registry
from drivetrain.jobs.registry import Sweeper

log = logging.getLogger("drivetrain.worker")


def _deliver_outbox(db: Database, worker_id: str) -> int:
    return outbox.deliver_due(db, registry.DELIVERERS, worker_id=worker_id)


def _checkpoint(db: Database, _worker_id: str) -> int:
    db.checkpoint()
    return 0  # housekeeping, not rows acted on


def all_sweepers() -> list[Sweeper]:
    """Every registered domain sweeper, then the outbox and the SQLite checkpoint."""
    return [*registry.SWEEPERS, _deliver_outbox, _checkpoint]


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@dataclass
class Worker:
    db: Database | None = None
    worker_id: str = field(default_factory=default_worker_id)
    sweepers: list[Sweeper] = field(default_factory=all_sweepers)

    def run_once(self) -> int:
        """One pass over every sweeper; the number of rows acted on."""
        db = self.db or database()
        return sum(sweep(db, self.worker_id) for sweep in self.sweepers)

    def run_until_idle(self, *, max_passes: int = 1000) -> int:
        """Catch up: pass after pass until nothing is due."""
        total = 0
        for _ in range(max_passes):
            done = self.run_once()
            total += done
            if done == 0:
                break
        return total

    def run_forever(self, stop: threading.Event, *, interval: float = 0.5) -> None:
        log.info("worker %s started", self.worker_id)
        while not stop.is_set():
            try:
                self.run_until_idle()
            except Exception:
                log.exception("worker pass failed; retrying")
            stop.wait(interval)
        log.info("worker %s stopped", self.worker_id)
