"""Who may call which cases route: the gates the routes declare, checked before a body is read.

A route names its gate in its signature (``subject: CaseWorker``); data scope is the repositories'
(``CaseRepository.readable``). The case desk's configuration is OEM-wide: ``cases:configure`` is an HQ
permission, so it needs no ``hq`` gate of its own.
"""

from __future__ import annotations

from typing import Annotated

from drivetrain.auth.deps import ConsoleRequires, Requires
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject

CaseReader = Annotated[AuthSubject, Requires(Permission.CASES_READ)]
CaseWorker = Annotated[AuthSubject, Requires(Permission.CASES_WORK)]
CaseConfigurer = Annotated[AuthSubject, Requires(Permission.CASES_CONFIGURE)]
CaseReportReader = Annotated[AuthSubject, Requires(Permission.CASES_READ, Permission.REPORTS_READ)]

ConsoleCaseReader = Annotated[AuthSubject, ConsoleRequires(Permission.CASES_READ)]
ConsoleCaseWorker = Annotated[AuthSubject, ConsoleRequires(Permission.CASES_WORK)]
ConsoleCaseConfigurer = Annotated[AuthSubject, ConsoleRequires(Permission.CASES_CONFIGURE)]
ConsoleCaseReportReader = Annotated[
    AuthSubject, ConsoleRequires(Permission.CASES_READ, Permission.REPORTS_READ)
]
