"""Queries on portal users and their sessions."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import Table, delete, func, insert, select, update

from provider_products.auth.models import Provider
from provider_products.db.engine import Connection
from provider_products.portal.models import PortalSession, PortalUser

user = cast(Table, PortalUser.__table__)
session = cast(Table, PortalSession.__table__)
provider = cast(Table, Provider.__table__)


class UserRecord(NamedTuple):
    """A portal user as stored (the password hash included), with the provider's slug and name."""

    id: int
    email: str
    password_hash: str
    role: str
    is_active: bool
    created_at: datetime
    password_changed_at: datetime | None
    provider_id: int
    provider_slug: str
    provider_name: str


class SessionRecord(NamedTuple):
    """A session and its user, as the portal needs them on every request."""

    session_id: int
    csrf_token: str
    expires_at: datetime
    user: UserRecord


_USER_COLUMNS = (
    user.c.id,
    user.c.email,
    user.c.password_hash,
    user.c.role,
    user.c.is_active,
    user.c.created_at,
    user.c.password_changed_at,
    user.c.provider_id,
    provider.c.slug.label("provider_slug"),
    provider.c.name.label("provider_name"),
)
_USER = select(*_USER_COLUMNS).join(provider, provider.c.id == user.c.provider_id)


async def get_user_by_email(conn: Connection, email: str) -> UserRecord | None:
    """Return the user with this (lower-cased) email, or None."""
    row = (await conn.execute(_USER.where(user.c.email == email))).first()
    return None if row is None else UserRecord._make(row)


async def get_user(conn: Connection, user_id: int) -> UserRecord | None:
    """Return the user with this id, or None."""
    row = (await conn.execute(_USER.where(user.c.id == user_id))).first()
    return None if row is None else UserRecord._make(row)


async def list_users(conn: Connection, provider_id: int | None) -> list[UserRecord]:
    """Return every user, optionally of one provider, by provider and email."""
    query = _USER.order_by(provider.c.slug, user.c.email)
    if provider_id is not None:
        query = query.where(user.c.provider_id == provider_id)
    return [UserRecord._make(row) for row in (await conn.execute(query)).all()]


async def insert_user(
    conn: Connection, *, provider_id: int, email: str, password_hash: str, role: str, created_at: datetime
) -> int:
    """Insert a user and return its id; a taken email violates the unique constraint."""
    statement = (
        insert(user)
        .values(
            provider_id=provider_id,
            email=email,
            password_hash=password_hash,
            role=role,
            is_active=True,
            created_at=created_at,
        )
        .returning(user.c.id)
    )
    return int((await conn.execute(statement)).scalar_one())


async def update_user(conn: Connection, user_id: int, **values: object) -> bool:
    """Set columns of a user; say whether it exists."""
    result = await conn.execute(update(user).where(user.c.id == user_id).values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def insert_session(
    conn: Connection,
    *,
    token_hash: str,
    user_id: int,
    csrf_token: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    """Store a new session."""
    await conn.execute(
        insert(session).values(
            token_hash=token_hash,
            user_id=user_id,
            csrf_token=csrf_token,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


async def get_session(conn: Connection, token_hash: str) -> SessionRecord | None:
    """Return the session with this token hash, joined with its user, or None."""
    query = select(session.c.id, session.c.csrf_token, session.c.expires_at, *_USER_COLUMNS).select_from(
        session.join(user, user.c.id == session.c.user_id).join(provider, provider.c.id == user.c.provider_id)
    )
    row = (await conn.execute(query.where(session.c.token_hash == token_hash))).first()
    if row is None:
        return None
    values = tuple(row)
    return SessionRecord(values[0], values[1], values[2], UserRecord._make(values[3:]))


async def delete_session(conn: Connection, token_hash: str) -> None:
    """End one session."""
    await conn.execute(delete(session).where(session.c.token_hash == token_hash))


async def delete_user_sessions(conn: Connection, user_id: int, *, except_id: int | None = None) -> int:
    """End every session of a user (but ``except_id``); return how many ended."""
    statement = delete(session).where(session.c.user_id == user_id)
    if except_id is not None:
        statement = statement.where(session.c.id != except_id)
    return int((await conn.execute(statement)).rowcount)  # type: ignore[attr-defined]


async def delete_expired_sessions(conn: Connection, now: datetime) -> None:
    """Forget sessions past their expiry."""
    await conn.execute(delete(session).where(session.c.expires_at <= now))


async def count_sessions(conn: Connection, user_id: int) -> int:
    """Count a user's stored sessions."""
    query = select(func.count()).select_from(session).where(session.c.user_id == user_id)
    return int((await conn.execute(query)).scalar_one())
