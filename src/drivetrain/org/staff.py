"""Staff accounts placed in the organisation: a new account's dealer, region or group, named the way
people know them (a dealer code, a region's or group's name), becomes the ids auth stores."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from drivetrain.auth import service as auth_service
from drivetrain.auth.models import User
from drivetrain.auth.roles import Role
from drivetrain.auth.subject import AuthSubject
from drivetrain.kit.errors import InvalidInput
from drivetrain.org.repository import DealerGroupRepository, DealerRepository, RegionRepository


@dataclass(frozen=True)
class Anchor:
    """The organisation unit a new account belongs to, by its public name or code."""

    dealer_code: str | None = None
    region_name: str | None = None
    group_name: str | None = None


def _resolve(session: Session, anchor: Anchor) -> dict[str, str | None]:
    """A dealer brings its region and group; a named region or group overrides them."""
    ids: dict[str, str | None] = {"dealer_id": None, "region_id": None, "group_id": None}
    if anchor.dealer_code:
        dealer = DealerRepository(session).with_code(anchor.dealer_code)
        if dealer is None:
            raise InvalidInput("dealer", f"no dealer with code {anchor.dealer_code}")
        ids.update(dealer_id=dealer.id, region_id=dealer.region_id, group_id=dealer.group_id)
    if anchor.region_name:
        region_id = RegionRepository(session).id_named(anchor.region_name)
        if region_id is None:
            raise InvalidInput("region", f"no region named {anchor.region_name}")
        ids["region_id"] = region_id
    if anchor.group_name:
        group_id = DealerGroupRepository(session).id_named(anchor.group_name)
        if group_id is None:
            raise InvalidInput("group", f"no dealer group named {anchor.group_name}")
        ids["group_id"] = group_id
    return ids


def create_staff(
    session: Session,
    actor: AuthSubject,
    *,
    username: str,
    password: str | None,
    role: Role,
    display_name: str | None = None,
    anchor: Anchor = Anchor(),
    manager_id: str | None = None,
    title: str | None = None,
) -> User:
    """A new account at its place in the organisation (audited as ``user.create``)."""
    ids = _resolve(session, anchor)
    return auth_service.create_user(
        session,
        actor,
        username=username,
        password=password,
        role=role,
        display_name=display_name,
        manager_id=manager_id,
        title=title,
        dealer_id=ids["dealer_id"],
        region_id=ids["region_id"],
        group_id=ids["group_id"],
    )
