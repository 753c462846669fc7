"""Accounts, console sessions and API tokens by their credentials. Reads through a subject's data
scope (the audit log, the tokens of the staff someone manages) are org's: scope needs the dealers."""

from __future__ import annotations

from sqlalchemy import select

from drivetrain.auth.models import ApiToken, ConsoleSession, IdempotencyRecord, User
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


class IdempotencyRepository(Repository[IdempotencyRecord]):
    """Keys are the system's own bookkeeping: looked up by their owner, never listed for a subject."""

    model = IdempotencyRecord
    missing = "no such idempotency key"

    def find(self, user_id: str, operation: str, key: str) -> IdempotencyRecord | None:
        return self.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id,
                IdempotencyRecord.operation == operation,
                IdempotencyRecord.key == key,
            )
        )

    def find_many(
        self, operation: str, keys: set[tuple[str, str]]
    ) -> dict[tuple[str, str], IdempotencyRecord]:
        """By (user id, key). IN per column, which the unique index answers (a row-value IN scans SQLite)."""
        if not keys:
            return {}
        stmt = select(IdempotencyRecord).where(
            IdempotencyRecord.user_id.in_({user for user, _ in keys}),
            IdempotencyRecord.operation == operation,
            IdempotencyRecord.key.in_({key for _, key in keys}),
        )
        return {(r.user_id, r.key): r for r in self.session.scalars(stmt) if (r.user_id, r.key) in keys}
