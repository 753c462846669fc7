"""Who may call org's routes: dealers for those who read dealers, a dealer's staff for those who read
staff. Routes declare these; nothing in a handler checks them again."""

from __future__ import annotations

from typing import Annotated

from drivetrain.auth.deps import ConsoleRequires, Requires
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject

DealerReader = Annotated[AuthSubject, Requires(Permission.DEALERS_READ)]
StaffReader = Annotated[AuthSubject, Requires(Permission.STAFF_READ)]
ConsoleDealerReader = Annotated[AuthSubject, ConsoleRequires(Permission.DEALERS_READ)]
