"""Users, roles and what each role may do; passwords hashed with Argon2id."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from moneytrail.errors import UserError
from moneytrail.opstore.models import ApiToken, User, utcnow

ROLES = ("analyst", "supervisor", "liaison", "admin")

# A liaison officer works with partner units: they see what is shared and share, nothing else.
PERMISSIONS: dict[str, frozenset[str]] = {
    "analyst": frozenset({"read_personal", "read_cases", "edit_case", "score"}),
    "supervisor": frozenset(
        {"read_personal", "read_cases", "edit_case", "score", "assign_case", "approve_report", "read_audit", "share"}
    ),
    "liaison": frozenset({"read_shared", "share"}),
    "admin": frozenset(
        {
            "read_personal", "read_cases", "edit_case", "score", "assign_case", "approve_report",
            "read_audit", "share", "read_shared", "manage_users",
        }
    ),
}
ALL_PERMISSIONS = frozenset().union(*PERMISSIONS.values())

_hasher = PasswordHasher()
MIN_PASSWORD = 10
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


class Forbidden(UserError):
    """The user's role does not allow the action."""


def can(role: str, permission: str) -> bool:
    if permission not in ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    return permission in PERMISSIONS.get(role, frozenset())


def require(user: User, permission: str) -> None:
    if not user.active or not can(user.role, permission):
        raise Forbidden(f"user {user.username!r} ({user.role}) may not {permission.replace('_', ' ')}")


def create_user(session: Session, username: str, password: str, role: str) -> User:
    username = username.strip()
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise UserError("a username is 1 to 64 characters without spaces")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise UserError(f"user {username!r} exists already")
    user = User(username=username, password_hash=_hasher.hash(password), role=role, active=True)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError(f"no user {username!r}; an administrator adds one with `moneytrail users add`")
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this password, else None (same answer for every failure)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        _hasher.hash(password)  # spend the same time as a real check
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user if user.active else None


def set_password(session: Session, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    user.password_hash = _hasher.hash(password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, name: str) -> str:
    """A bearer token for a machine; only its hash is kept, so it is shown once."""
    token = "mt_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_token_hash(token)))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked or not row.user.active:
        return None
    now = utcnow()
    last = row.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    if last is None or now - last > TOKEN_USE_RESOLUTION:
        row.last_used_at = now  # written at most once a minute: a scoring gateway calls many times a second
    return row.user


def revoke_tokens(session: Session, user: User) -> int:
    rows = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))).all()
    for row in rows:
        row.revoked = True
    return len(rows)
