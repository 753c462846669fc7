"""The gates of the customer routes: who may read and change customers, vehicles, tags and segments.
Declared on each route (``subject: CustomerReader``), checked before the body is read or a row touched."""

from __future__ import annotations

from typing import Annotated

from drivetrain.auth.deps import ConsoleRequires, Requires
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject

CustomerReader = Annotated[AuthSubject, Requires(Permission.CUSTOMERS_READ)]
CustomerWriter = Annotated[AuthSubject, Requires(Permission.CUSTOMERS_WRITE)]
VehicleReader = Annotated[AuthSubject, Requires(Permission.VEHICLES_READ)]
VehicleWriter = Annotated[AuthSubject, Requires(Permission.VEHICLES_WRITE)]
HqCustomerReader = Annotated[AuthSubject, Requires(Permission.CUSTOMERS_READ, hq=True)]
"""The OEM's segment configuration, readable across every dealer only."""
SegmentConfigurer = Annotated[AuthSubject, Requires(Permission.SEGMENTS_CONFIGURE, hq=True)]

ConsoleCustomerReader = Annotated[AuthSubject, ConsoleRequires(Permission.CUSTOMERS_READ)]
ConsoleCustomerWriter = Annotated[AuthSubject, ConsoleRequires(Permission.CUSTOMERS_WRITE)]
ConsoleHqCustomerReader = Annotated[AuthSubject, ConsoleRequires(Permission.CUSTOMERS_READ, hq=True)]
ConsoleSegmentConfigurer = Annotated[AuthSubject, ConsoleRequires(Permission.SEGMENTS_CONFIGURE, hq=True)]
