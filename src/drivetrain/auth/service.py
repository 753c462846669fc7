"""Accounts, passwords, console sessions and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import cache

from pwdlib import PasswordHash
from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.models import ApiToken, ConsoleSession, User
from drivetrain.auth.repository import ApiTokenRepository, ConsoleSessionRepository, UserRepository
from drivetrain.auth.roles import ANCHOR_FOR_SCOPE, ROLE_PERMISSIONS, ROLE_SCOPE, Role
from drivetrain.auth.subject import AuthSubject
from drivetrain.config import get_settings
from drivetrain.kit import clock
from drivetrain.kit.errors import Conflict, InvalidInput, Unauthorized

_passwords = PasswordHash.recommended()
TOKEN_PREFIX = "dt_"
MIN_PASSWORD_LENGTH = 8


@cache
def _dummy_hash() -> str:
    """Verifying against a real hash when the user is unknown keeps login time the same either way.
    Made on the first sign-in, not at import: hashing costs half a second, and every command
    imports this module."""
    return _passwords.hash("not-a-real-password")


def keyed_hash(value: str) -> str:
    return hmac.new(get_settings().secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    return _passwords.hash(password)


def subject_for(user: User, *, via: str, token_id: str | None = None) -> AuthSubject:
    role = Role(user.role)
    return AuthSubject(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=role,
        dealer_id=user.dealer_id,
        region_id=user.region_id,
        group_id=user.group_id,
        token_id=token_id,
        via=via,
        permissions=ROLE_PERMISSIONS[role],
    )


def _anchor_ids(
    role: Role, *, dealer_id: str | None, region_id: str | None, group_id: str | None
) -> dict[str, str | None]:
    """The account's organisation unit; a role scoped to a region, group or dealer must have one."""
    ids = {"dealer_id": dealer_id, "region_id": region_id, "group_id": group_id}
    needed = ANCHOR_FOR_SCOPE[ROLE_SCOPE[role]]
    if needed and ids[f"{needed}_id"] is None:
        raise InvalidInput(needed, f"role {role.value} must belong to a {needed}")
    return ids


def create_user(
    session: Session,
    actor: AuthSubject,
    *,
    username: str,
    password: str | None,
    role: Role,
    display_name: str | None = None,
    dealer_id: str | None = None,
    region_id: str | None = None,
    group_id: str | None = None,
    manager_id: str | None = None,
    title: str | None = None,
) -> User:
    username = username.strip()
    if not username:
        raise InvalidInput("username", "must not be empty")
    users = UserRepository(session)
    if users.username_taken(username):
        raise Conflict(f"username {username} is taken")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password) if password else None,
        role=role.value,
        manager_id=manager_id,
        title=title,
        **_anchor_ids(role, dealer_id=dealer_id, region_id=region_id, group_id=group_id),
    )
    users.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        action="user.create",
        entity_type="user",
        entity_id=user.id,
        dealer_id=user.dealer_id,
        changes={"username": [None, username], "role": [None, role.value]},
    )
    return user


def authenticate(session: Session, *, username: str, password: str) -> User:
    user = UserRepository(session).active_with_username(username.strip())
    hashed = user.password_hash if user and user.password_hash else _dummy_hash()
    valid = _passwords.verify(password, hashed)
    if user is None or not user.password_hash or not valid:
        raise Unauthorized("wrong username or password")
    return user


def open_console_session(session: Session, user: User) -> tuple[str, ConsoleSession]:
    """Returns the cookie value (shown to the browser only) and the stored session."""
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=keyed_hash(token),
        csrf_token=secrets.token_urlsafe(32),
        user_id=user.id,
        expires_at=clock.now() + timedelta(hours=get_settings().session_hours),
    )
    session.add(row)
    return token, row


def console_session(session: Session, cookie: str) -> tuple[ConsoleSession, User] | None:
    found = ConsoleSessionRepository(session).signed_in(keyed_hash(cookie))
    if found is None or found[0].expires_at <= clock.now():
        return None
    return found


def close_console_session(session: Session, cookie: str) -> None:
    row = ConsoleSessionRepository(session).with_hash(keyed_hash(cookie))
    if row is not None:
        session.delete(row)


def create_token(session: Session, actor: AuthSubject, *, user: User, name: str) -> tuple[str, ApiToken]:
    """Returns the plain token, which is shown once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken(token_hash=keyed_hash(plain), prefix=plain[:10], name=name, user_id=user.id)
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor,
        action="token.create",
        entity_type="api_token",
        entity_id=token.id,
        dealer_id=user.dealer_id,
        changes={"user": [None, user.username], "name": [None, name]},
    )
    return plain, token


def revoke_token(session: Session, actor: AuthSubject, token: ApiToken, *, owner: User) -> bool:
    """Revoke a token now; False (and nothing written) when it already was. Requests already
    holding its subject in a server's token cache keep it for at most ``TOKEN_CACHE_SECONDS``."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = clock.now()
    audit.record(
        session,
        actor,
        action="token.revoke",
        entity_type="api_token",
        entity_id=token.id,
        dealer_id=owner.dealer_id,
        changes={"revoked_at": [None, token.revoked_at.isoformat()]},
    )
    return True


def subject_for_token(session: Session, plain: str) -> AuthSubject | None:
    if not plain.startswith(TOKEN_PREFIX):
        return None
    found = ApiTokenRepository(session).live(keyed_hash(plain))
    if found is None:
        return None
    token, user = found
    return subject_for(user, via="api", token_id=token.id)
