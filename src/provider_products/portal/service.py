"""Portal user and session rules: accounts of a provider's people, passwords, sign-in, sessions.

Passwords are argon2id hashes (``argon2-cffi``). A session is a random cookie token of which only the
SHA-256 is stored, so a copy of the database opens no browser session; its CSRF token lives beside
it. Deleting a session row revokes it for every worker at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from provider_products.auth import service as auth_service
from provider_products.db.base import utcnow
from provider_products.db.engine import Connection
from provider_products.portal import repository

Role = Literal["admin", "staff"]
ROLES: tuple[Role, ...] = ("admin", "staff")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
# Deliberately loose: the address is an identifier here, not a deliverable mailbox we check.
EMAIL_PATTERN = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

UserRecord = repository.UserRecord


class PortalError(auth_service.AdminError):
    """A portal account operation could not be carried out; the message says why, ``reason`` in a word.

    Reasons: ``email``, ``role``, ``exists``, ``no_provider``, ``no_user``, ``password_length``,
    ``wrong_password`` (pages translate them; the CLI prints the message).
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class NewPassword:
    """A user's freshly generated password: the only time it is visible."""

    email: str
    password: str
    provider_slug: str
    role: str


@dataclass(frozen=True)
class SignedIn:
    """A session just opened: the cookie token (shown to the browser only) and when it expires."""

    token: str
    expires_at: datetime


@dataclass(frozen=True)
class ActiveSession:
    """A valid session and its user."""

    session_id: int
    csrf_token: str
    user: UserRecord


def generate_password() -> str:
    """Return a random password of 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    """Return the stored form of a session token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def normalise_email(email: str) -> str:
    """Lower-case and trim an email; ``PortalError`` when it does not look like one."""
    cleaned = email.strip().lower()
    if len(cleaned) > 254 or not EMAIL_PATTERN.fullmatch(cleaned):
        raise PortalError(f"{email.strip()!r} is not an email address", "email")
    return cleaned


def check_role(role: str) -> Role:
    """Return the role, or ``PortalError`` unless it is admin or staff."""
    for known in ROLES:
        if role == known:
            return known
    raise PortalError(f"unknown role {role!r}; use admin or staff", "role")


def check_new_password(password: str) -> None:
    """Refuse a password that is too short or too long (``PortalError``)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PortalError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", "password_length")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PortalError(f"a password has at most {MAX_PASSWORD_LENGTH} characters", "password_length")


async def create_user(conn: Connection, *, provider_slug: str, email: str, role: str) -> NewPassword:
    """Create a user of a provider with a generated password, returned once and never stored."""
    checked_role = check_role(role)
    address = normalise_email(email)
    provider = await auth_service.find_provider(conn, slug=provider_slug)
    if provider is None:
        raise PortalError(
            f"no provider {provider_slug!r}; create it with 'provider-products providers create'",
            "no_provider",
        )
    if await repository.get_user_by_email(conn, address) is not None:
        raise PortalError(f"a user {address!r} already exists", "exists")
    password = generate_password()
    try:
        await repository.insert_user(
            conn,
            provider_id=provider.id,
            email=address,
            password_hash=hash_password(password),
            role=checked_role,
            created_at=utcnow(),
        )
    except IntegrityError as exc:  # a concurrent create of the same address
        raise PortalError(f"a user {address!r} already exists", "exists") from exc
    return NewPassword(address, password, provider.slug, checked_role)


async def list_users(conn: Connection, *, provider_id: int | None = None) -> list[UserRecord]:
    """Return the users (of one provider when given), never their password hashes' use."""
    return await repository.list_users(conn, provider_id)


async def find_user(conn: Connection, *, email: str, provider_id: int | None = None) -> UserRecord:
    """Return the user with this email (of ``provider_id`` when given), or ``PortalError``."""
    address = email.strip().lower()
    record = await repository.get_user_by_email(conn, address)
    if record is None or (provider_id is not None and record.provider_id != provider_id):
        raise PortalError(f"no user {address!r}", "no_user")
    return record


async def set_active(conn: Connection, *, email: str, active: bool, provider_id: int | None = None) -> int:
    """Enable or disable a user; disabling ends every session at once. Return the sessions ended."""
    record = await find_user(conn, email=email, provider_id=provider_id)
    await repository.update_user(conn, record.id, is_active=active)
    return 0 if active else await repository.delete_user_sessions(conn, record.id)


async def reset_password(conn: Connection, *, email: str, provider_id: int | None = None) -> NewPassword:
    """Give a user a new generated password (returned once) and end their sessions."""
    record = await find_user(conn, email=email, provider_id=provider_id)
    password = generate_password()
    await repository.update_user(
        conn, record.id, password_hash=hash_password(password), password_changed_at=utcnow()
    )
    await repository.delete_user_sessions(conn, record.id)
    return NewPassword(record.email, password, record.provider_slug, record.role)


async def find_for_login(conn: Connection, *, email: str) -> UserRecord | None:
    """Return the user a login names, or None (active or not: ``verify_login`` decides)."""
    return await repository.get_user_by_email(conn, email.strip().lower())


async def verify_login(record: UserRecord | None, *, password: str) -> UserRecord | None:
    """Return the user when active and ``password`` is theirs, else None; unknown users cost the same.

    Hold no transaction while this runs: argon2 takes milliseconds of CPU (off the event loop).
    """
    ok = await anyio.to_thread.run_sync(_verify, record.password_hash if record else None, password)
    if record is None or not ok or not record.is_active:
        return None
    return record


async def open_session(conn: Connection, *, user_id: int, lifetime: timedelta) -> SignedIn:
    """Store a new session of the user and return its cookie token; expired sessions are purged."""
    now = utcnow()
    await repository.delete_expired_sessions(conn, now)
    token = secrets.token_urlsafe(32)
    expires_at = now + lifetime
    await repository.insert_session(
        conn,
        token_hash=token_hash(token),
        user_id=user_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=expires_at,
    )
    return SignedIn(token, expires_at)


async def resolve_session(conn: Connection, *, token: str) -> ActiveSession | None:
    """Return the session of a cookie token while it is unexpired and its user active, else None."""
    record = await repository.get_session(conn, token_hash(token))
    if record is None or record.expires_at <= utcnow() or not record.user.is_active:
        return None
    return ActiveSession(record.session_id, record.csrf_token, record.user)


async def close_session(conn: Connection, *, token: str) -> None:
    """End the session of a cookie token (logout)."""
    await repository.delete_session(conn, token_hash(token))


async def change_password(conn: Connection, *, user_id: int, session_id: int, current: str, new: str) -> None:
    """Change a user's own password after checking the current one; their other sessions end."""
    record = await repository.get_user(conn, user_id)
    if record is None or await verify_login(record, password=current) is None:
        raise PortalError("the current password is not right", "wrong_password")
    check_new_password(new)
    await repository.update_user(
        conn, user_id, password_hash=hash_password(new), password_changed_at=utcnow()
    )
    await repository.delete_user_sessions(conn, user_id, except_id=session_id)


async def session_count(conn: Connection, *, user_id: int) -> int:
    """Count the sessions stored for a user (ended sessions are deleted)."""
    return await repository.count_sessions(conn, user_id)
