"""Access tokens (JWT, HS256 only, with exp/aud/iss) and opaque rotating refresh tokens."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import jwt

from backend import runtime
from backend.errors import DomainError
from backend.models import utcnow

ALGORITHMS = ["HS256"]  # the allowlist: a token naming any other algorithm (or none) is refused
TOKEN_TYPE = "access"  # so no other JWT this service may sign later can pass as an access token
MAX_USER_ID = 2**31 - 1  # the id column's range


def issue_access(user_id: int, role: str, token_version: int, family_id: str) -> tuple[str, int]:
    """Sign an access token; return it with its lifetime in seconds."""
    s = runtime.settings()
    now = utcnow()
    lifetime = s.access_token_minutes * 60
    claims = {
        "sub": str(user_id),
        "role": role,
        "tv": token_version,
        "sid": family_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=lifetime)).timestamp()),
        "aud": s.jwt_audience,
        "iss": s.jwt_issuer,
        "jti": uuid.uuid4().hex,
        "typ": TOKEN_TYPE,
    }
    return jwt.encode(claims, s.secret_key, algorithm="HS256"), lifetime


def decode_access(token: str) -> dict:
    """Verify signature (HS256 only), expiry, audience, issuer and type; TOKEN_INVALID otherwise."""
    s = runtime.settings()
    try:
        claims = jwt.decode(
            token,
            s.secret_key,
            algorithms=ALGORITHMS,
            audience=s.jwt_audience,
            issuer=s.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss", "tv", "sid", "typ"]},
        )
    except jwt.PyJWTError as exc:
        raise DomainError("TOKEN_INVALID") from exc
    if not _well_formed(claims):
        raise DomainError("TOKEN_INVALID")
    return claims


def _well_formed(claims: dict) -> bool:
    """Claims this service could have written: a user id of ASCII digits that fits the id column, an integer
    token version, a session id of printable ASCII. A correctly signed token is still refused without them
    (the secret may have signed another's token format; its claims must never reach a query unchecked)."""
    sub, tv, sid = claims.get("sub"), claims.get("tv"), claims.get("sid")
    return (
        claims.get("typ") == TOKEN_TYPE
        and isinstance(sub, str)
        and sub.isascii()
        and sub.isdigit()
        and 0 < int(sub) <= MAX_USER_ID
        and isinstance(tv, int)
        and not isinstance(tv, bool)
        and abs(tv) <= MAX_USER_ID
        and isinstance(sid, str)
        and 0 < len(sid) <= 64
        and sid.isascii()
        and sid.isprintable()
    )


def new_refresh_token() -> str:
    """An opaque random refresh token; only its SHA-256 is stored."""
    return secrets.token_urlsafe(32)


def new_family_id() -> str:
    return str(uuid.uuid4())
