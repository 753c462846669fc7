"""Who may call auth's routes: anyone signed in for their own account, tokens and events; the audit
log for those who read it. Routes declare these; nothing in a handler checks them again."""

from __future__ import annotations

from typing import Annotated

from drivetrain.auth.deps import ConsoleRequires, Requires
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject

SignedIn = Annotated[AuthSubject, Requires()]
ConsoleSignedIn = Annotated[AuthSubject, ConsoleRequires()]
AuditReader = Annotated[AuthSubject, Requires(Permission.AUDIT_READ)]
