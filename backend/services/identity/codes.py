"""One-time codes of a login (a subject's activation code, a staff user's reset code): issue and spend.

Stored hashed in ``activation_codes``; the role of the code's user tells the two kinds apart, so a subject's
code works only at /auth/activate and a staff user's only at /auth/reset (docs/roles.md#recovery).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend import runtime
from backend.errors import DomainError, register
from backend.models import ActivationCode, User, utcnow
from backend.services.core.crypto import sha256_hex
from backend.services.identity import ratelimit

register("USER_DISABLED", 409, "该账号已停用,请先启用", "The account is disabled; enable it first")

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
#: the rate-limit window of issuing codes to one account
CODE_WINDOW_S = 3600


def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


def replace_code(session: Session, user_id: int, created_by: int | None, lifetime: timedelta) -> tuple[str, datetime]:
    """Kill the user's unspent codes and store a new one (hashed); return the plain code and its expiry.

    Rate-limited per account (RATE_LIMIT_CODES_PER_HOUR), so a stolen staff login cannot mint codes in bulk.
    """
    ratelimit.hit(f"codes:user:{user_id}", runtime.settings().rate_limit_codes_per_hour, CODE_WINDOW_S)
    now = utcnow()
    session.execute(
        update(ActivationCode)
        .where(ActivationCode.user_id == user_id, ActivationCode.used_at.is_(None), ActivationCode.expires_at > now)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    code = new_code()
    expires = now + lifetime
    session.add(ActivationCode(user_id=user_id, code_hash=sha256_hex(code), created_by=created_by, expires_at=expires))
    session.flush()
    return code, expires


def spend(s: Session, code: str, subject_code: bool, invalid: str) -> User:
    """Spend an unspent, unexpired code of an active user of the right kind (a conditional UPDATE: once only)."""
    now = utcnow()
    row = s.scalar(select(ActivationCode).where(ActivationCode.code_hash == sha256_hex(code.strip().upper())))
    if row is None or row.used_at is not None or row.expires_at < now:
        raise DomainError(invalid)
    user = s.get(User, row.user_id)
    if user is None or not user.active or (user.role == "subject") != subject_code:
        raise DomainError(invalid)
    spent = s.execute(
        update(ActivationCode)
        .where(ActivationCode.id == row.id, ActivationCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if spent != 1:
        raise DomainError(invalid)
    return user
