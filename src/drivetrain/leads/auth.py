"""Who may call the leads routes: each route's subject is one of these, checked before the body is read."""

from __future__ import annotations

from typing import Annotated

from drivetrain.auth.deps import ConsoleRequires, Requires
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject

LeadReader = Annotated[AuthSubject, Requires(Permission.LEADS_READ)]
LeadCapturer = Annotated[AuthSubject, Requires(Permission.LEADS_CAPTURE)]
LeadWorker = Annotated[AuthSubject, Requires(Permission.LEADS_WORK)]
LeadAssigner = Annotated[AuthSubject, Requires(Permission.LEADS_ASSIGN)]
LeadConfigurer = Annotated[AuthSubject, Requires(Permission.LEADS_CONFIGURE)]
ReportReader = Annotated[AuthSubject, Requires(Permission.REPORTS_READ)]

ConsoleLeadReader = Annotated[AuthSubject, ConsoleRequires(Permission.LEADS_READ)]
ConsoleLeadWorker = Annotated[AuthSubject, ConsoleRequires(Permission.LEADS_WORK)]
ConsoleLeadAssigner = Annotated[AuthSubject, ConsoleRequires(Permission.LEADS_ASSIGN)]
ConsoleLeadConfigurer = Annotated[AuthSubject, ConsoleRequires(Permission.LEADS_CONFIGURE)]
