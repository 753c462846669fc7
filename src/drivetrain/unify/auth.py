"""The gates of the identity routes: resolution, its review queue and merges act on HQ data across
every dealer; a customer's golden record and identity panel are read like the customer."""

from __future__ import annotations

from typing import Annotated

from drivetrain.auth.deps import ConsoleRequires, Requires
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject

IdentityManager = Annotated[AuthSubject, Requires(Permission.IDENTITY_MANAGE, hq=True)]
ConsoleIdentityManager = Annotated[AuthSubject, ConsoleRequires(Permission.IDENTITY_MANAGE, hq=True)]
