"""Lead captures that arrive together are written together.

Requests from the API queue here; one thread per process takes everything waiting (up to
``MAX_BATCH``), captures it in one transaction (``capture.capture_many``) and answers each request
when the transaction has committed. At a trickle a batch is one lead and nothing waits; under a
burst the transaction, the routing reads and the inserts are paid once per batch instead of once per
lead, and requests never compete for the single SQLite writer.

Nothing is answered before its commit, so every 201 is durable. A batch that hits a unique key
raced by another process (the same source_ref or Idempotency-Key) is retried one request at a time;
the retry finds the winner's lead and answers with it.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from drivetrain.db import unit_of_work
from drivetrain.kit.errors import Conflict
from drivetrain.leads.capture import Capture, CaptureRequest, capture_many
from drivetrain.leads.presenters import captured_read
from drivetrain.leads.schemas import LeadRead

MAX_BATCH = 256
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Waiting:
    request: CaptureRequest
    locale: str
    answer: Future[LeadRead]


class CaptureQueue:
    def __init__(self) -> None:
        self._waiting: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, request: CaptureRequest, *, locale: str) -> Future[LeadRead]:
        """The lead's answer, once committed; a domain error (bad series, key conflict) as its exception."""
        self._start()
        answer: Future[LeadRead] = Future()
        self._waiting.put(_Waiting(request, locale, answer))
        return answer

    def _start(self) -> None:
        with self._lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._run, name="lead-capture", daemon=True)
                self._writer.start()

    def _run(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[_Waiting]) -> None:
        try:
            outcomes = _capture(batch)
        except Exception:  # a raced unique key, or one request the batch cannot take: one at a time
            outcomes = [_capture_alone(waiting) for waiting in batch]
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, LeadRead):
                waiting.answer.set_result(outcome)
            else:
                waiting.answer.set_exception(outcome)


def _capture(batch: list[_Waiting]) -> list[LeadRead | Exception]:
    with unit_of_work() as session:
        outcomes = capture_many(session, [waiting.request for waiting in batch])
        return [
            captured_read(session, waiting.request.subject, outcome, locale=waiting.locale)
            if isinstance(outcome, Capture)
            else outcome
            for waiting, outcome in zip(batch, outcomes, strict=True)
        ]


def _capture_alone(waiting: _Waiting) -> LeadRead | Exception:
    """One request in its own transaction, twice if another process stored the same key meanwhile:
    the second attempt replays that lead."""
    for _attempt in range(2):
        try:
            return _capture([waiting])[0]
        except IntegrityError:
            continue
        except Exception as error:
            log.exception("lead capture failed")
            return error
    return Conflict("another request stored this lead at the same moment; retry")


intake = CaptureQueue()
