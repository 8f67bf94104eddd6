"""Who is calling: a signed session cookie for the browser, bearer tokens for machines.

The cookie holds the user id and a CSRF token, signed with the server's secret
(itsdangerous), HttpOnly and SameSite=Strict, valid for `SESSION_HOURS`. A
state-changing request authenticated by the cookie must repeat the CSRF token in
the `X-CSRF-Token` header (the synchronizer-token pattern: a page of another site
can make the browser send the cookie, but cannot read the token). Bearer
tokens are issued and checked by `moneytrail.opstore.users`; they need no CSRF
header because a browser never adds them by itself.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "moneytrail_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_HOURS = 8.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Caller:
    """The authenticated user of one request, detached from any database session."""

    id: int
    username: str
    role: str
    via: str  # cookie | bearer
    csrf: str | None = None


@dataclass(frozen=True)
class SessionData:
    user_id: int
    csrf: str


class SessionSigner:
    """Makes and reads the session cookie's value."""

    def __init__(self, secret: str, hours: float = SESSION_HOURS):
        self._s = URLSafeTimedSerializer(secret, salt="moneytrail-session")
        self.max_age = int(hours * 3600)

    def new(self, user_id: int) -> tuple[str, str]:
        """(cookie value, CSRF token) for a fresh session."""
        csrf = secrets.token_urlsafe(32)
        return self._s.dumps({"u": user_id, "c": csrf}), csrf

    def read(self, value: str | None) -> SessionData | None:
        if not value:
            return None
        try:
            data = self._s.loads(value, max_age=self.max_age)
        except BadSignature:  # also covers an expired signature
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("c"), str):
            return None
        return SessionData(data["u"], data["c"])


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given and hmac.compare_digest(expected.encode(), given.encode()))


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def server_secret(explicit: str | None = None) -> str:
    """The signing key: given, `$MONEYTRAIL_SECRET_KEY`, or a random key kept in the data directory.

    Kept in a file so that every worker process and a restart use the same key (sessions survive).
    """
    if explicit:
        return explicit
    env = os.environ.get("MONEYTRAIL_SECRET_KEY")
    if env:
        return env
    path = Path(platformdirs.user_data_dir("moneytrail")) / "web-secret.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
