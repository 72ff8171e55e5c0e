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


def issue_access(user_id: int, role: str, token_version: int, family_id: str) -> tuple[str, int]:
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
    }
    return jwt.encode(claims, s.secret_key, algorithm="HS256"), lifetime


def decode_access(token: str) -> dict:
    s = runtime.settings()
    try:
        return jwt.decode(
            token,
            s.secret_key,
            algorithms=ALGORITHMS,
            audience=s.jwt_audience,
            issuer=s.jwt_issuer,
            options={"require": ["exp", "sub", "aud", "iss", "tv", "sid"]},
        )
    except jwt.PyJWTError as exc:
        raise DomainError("TOKEN_INVALID") from exc


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_family_id() -> str:
    return str(uuid.uuid4())
