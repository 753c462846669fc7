"""Accounts, console sessions and API tokens by their credentials. Reads through a subject's data
scope (the audit log, the tokens of the staff someone manages) are org's: scope needs the dealers."""

from __future__ import annotations

from sqlalchemy import select

from drivetrain.auth.models import ApiToken, ConsoleSession, User
from drivetrain.kit.repository import Repository


class UserRepository(Repository[User]):
    model = User
    missing = "no such user"

    def active_with_username(self, username: str) -> User | None:
        return self.session.scalar(select(User).where(User.username == username, User.active.is_(True)))

    def username_taken(self, username: str) -> bool:
        return self.session.scalar(select(User.id).where(User.username == username)) is not None


class ConsoleSessionRepository(Repository[ConsoleSession]):
    model = ConsoleSession
    missing = "no such session"

    def with_hash(self, token_hash: str) -> ConsoleSession | None:
        return self.session.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == token_hash))

    def signed_in(self, token_hash: str) -> tuple[ConsoleSession, User] | None:
        """The session with this cookie hash and its account, while the account is active."""
        row = self.session.execute(
            select(ConsoleSession, User)
            .join(User, User.id == ConsoleSession.user_id)
            .where(ConsoleSession.token_hash == token_hash, User.active.is_(True))
        ).first()
        return (row[0], row[1]) if row else None


class ApiTokenRepository(Repository[ApiToken]):
    model = ApiToken
    missing = "no such token"

    def live(self, token_hash: str) -> tuple[ApiToken, User] | None:
        """The unrevoked token with this hash and its account, while the account is active."""
        row = self.session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None), User.active.is_(True))
        ).first()
        return (row[0], row[1]) if row else None
