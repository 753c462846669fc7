"""Who may call quality's routes: clusters, trends and alerts for those who read quality; acknowledging
and closing an alert for those who triage. Routes declare these; nothing in a handler checks them again."""

from __future__ import annotations

from typing import Annotated

from drivetrain.auth.deps import ConsoleRequires, Requires
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject

QualityReader = Annotated[AuthSubject, Requires(Permission.QUALITY_READ)]
QualityTriager = Annotated[AuthSubject, Requires(Permission.QUALITY_TRIAGE)]
ConsoleQualityReader = Annotated[AuthSubject, ConsoleRequires(Permission.QUALITY_READ)]
ConsoleQualityTriager = Annotated[AuthSubject, ConsoleRequires(Permission.QUALITY_TRIAGE)]
