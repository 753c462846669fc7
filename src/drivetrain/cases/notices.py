"""What a case's new holder is told: the live event and the WeCom message, in words from the catalogue.

Stored text is Chinese whatever the reader's language: it is written once and read on WeCom and in
the customer's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drivetrain.cases.ladder import RUNG_NAMES
from drivetrain.cases.models import Rung
from drivetrain.kit.i18n import translator

WECOM_TOPIC = "wecom.app_message"
stored_text = translator("zh-CN")
"""The words of stored text (timeline summaries, WeCom messages)."""


def rung_label(level: int) -> str:
    """The rung as stored text names it (the holder's title, not the console's short label)."""
    return stored_text(f"cases.stored.rung.{int(Rung(level))}")


@dataclass(frozen=True)
class Notice:
    """What the new holder of a case is told: the live event's payload and the WeCom message."""

    case_id: str
    title: str
    priority: str
    level: int
    due_at: datetime | None

    def payload(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "title": self.title,
            "priority": self.priority,
            "escalation_level": self.level,
            "rung": RUNG_NAMES[Rung(self.level)],
            "due_at": self.due_at.isoformat() if self.due_at else None,
        }

    def wecom_message(self, event_type: str, wecom_userid: str) -> dict[str, Any]:
        key = (
            "cases.stored.wecom.escalated"
            if event_type == "case.escalated"
            else "cases.stored.wecom.assigned"
        )
        text = stored_text(key, rung=rung_label(self.level), priority=self.priority, title=self.title)
        return {"to": [wecom_userid], "text": text, "case_id": self.case_id}
