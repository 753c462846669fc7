"""Where domains hand the worker their jobs: sweepers (``(db, worker_id) -> rows acted on``) and outbox
deliverers by topic. The worker knows no domain; ``drivetrain.tasks`` imports each domain's
``tasks.py`` (and each integration's deliverers), whose decorators fill these tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from drivetrain.db import Database

Sweeper = Callable[[Database, str], int]
Deliverer = Callable[[dict[str, Any]], None]
S = TypeVar("S", bound=Sweeper)
D = TypeVar("D", bound=Deliverer)

SWEEPERS: list[Sweeper] = []
"""In the order they registered: the order the worker runs them in each pass."""
DELIVERERS: dict[str, Deliverer] = {}


def sweeper(job: S) -> S:
    """Register a sweeper; the worker runs it once per pass until nothing is due."""
    if job not in SWEEPERS:
        SWEEPERS.append(job)
    return job


def deliverer(topic: str) -> Callable[[D], D]:
    """Register the deliverer of an outbox topic; a second deliverer for the same topic is a mistake."""

    def register(deliver: D) -> D:
        known = DELIVERERS.setdefault(topic, deliver)
        if known is not deliver:
            raise ValueError(f"outbox topic {topic!r} already has a deliverer ({known.__qualname__})")
        return deliver

    return register
