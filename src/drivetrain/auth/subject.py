"""Who is asking: a signed-in user or an API token, with the role's permissions and data scope."""

from __future__ import annotations

from dataclasses import dataclass, field

from drivetrain.auth.roles import ROLE_SCOPE, Permission, Role, Scope
from drivetrain.kit.errors import Forbidden


@dataclass(frozen=True)
class AuthSubject:
    user_id: str
    username: str
    display_name: str
    role: Role
    dealer_id: str | None = None
    region_id: str | None = None
    group_id: str | None = None
    token_id: str | None = None
    via: str = "api"
    permissions: frozenset[Permission] = field(default_factory=frozenset)

    @property
    def scope(self) -> Scope:
        return ROLE_SCOPE[self.role]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden(f"your role ({self.role.value}) may not do this ({permission.value})")

    @property
    def is_hq(self) -> bool:
        """Sees every dealer: the OEM's own staff (and integrations)."""
        return self.scope is Scope.ALL

    def require_hq(self) -> None:
        """The OEM's configuration and cross-dealer work (rules, identity resolution) are HQ's alone."""
        if not self.is_hq:
            raise Forbidden("this is HQ's work: it spans every dealer")


SYSTEM = AuthSubject(
    user_id="",
    username="system",
    display_name="system",
    role=Role.HQ_ADMIN,
    via="cli",
    permissions=frozenset(Permission),
)
"""The CLI and the worker act as this subject: all scope, every permission, audited as ``cli``."""
