"""The gates of the source-system routes: sources and their records are HQ data."""

from __future__ import annotations

from typing import Annotated

from drivetrain.auth.deps import Requires
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject

SourceReader = Annotated[AuthSubject, Requires(Permission.CUSTOMERS_READ, hq=True)]
SourceManager = Annotated[AuthSubject, Requires(Permission.SOURCES_MANAGE, hq=True)]
