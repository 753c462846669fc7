"""Severity from dictionary cues and a few rules, not from the model: a missed brake
failure is too costly to leave to a statistical guess, and a rule can be explained to
the service advisor who gets woken up by it."""

from __future__ import annotations

import re

from drivetrain.cases.classify.labels import Severity
from drivetrain.cases.classify.lexicon import negations, severity_cues

_CLAUSE_END = re.compile(r"[,。;!?、，；！？\s]")
_NEGATION_REACH = 5


def _negated(lowered: str, start: int) -> bool:
    """A negation in the same clause, at most a few characters before the cue (没有起火)."""
    before = lowered[max(0, start - _NEGATION_REACH) : start]
    clause = _CLAUSE_END.split(before)[-1]
    return any(word in clause for word in negations())


def _unnegated(pattern: re.Pattern[str], lowered: str) -> bool:
    return any(not _negated(lowered, m.start()) for m in pattern.finditer(lowered))


def assess_severity(lowered: str, sentiment: int) -> Severity:
    """``lowered`` is the normalised, lower-cased text; ``sentiment`` the predicted polarity."""
    cues = severity_cues()
    if _unnegated(cues["critical"], lowered):
        return Severity.CRITICAL
    stalled = _unnegated(cues["critical_on_road"], lowered)
    if stalled and cues["on_road"].search(lowered):
        return Severity.CRITICAL
    if sentiment > 0 and cues["praise"].search(lowered):
        return Severity.LOW
    if stalled or _unnegated(cues["high"], lowered):
        return Severity.HIGH
    if _is_pure_inquiry(lowered, sentiment):
        return Severity.LOW
    return Severity.NORMAL


def _is_pure_inquiry(lowered: str, sentiment: int) -> bool:
    """A question or request that reports no problem ("没有其他问题" reports none)."""
    cues = severity_cues()
    asks = cues["inquiry"].search(lowered) is not None
    return asks and sentiment >= 0 and not _unnegated(cues["problem"], lowered)
