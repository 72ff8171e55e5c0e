"""A staff user's way back in: an admin issues a one-time reset code, the user sets a new password with it.

Rules in docs/roles.md#recovery: issuing kills every unspent code of the account, is rate-limited per account
and audited; the reset is single-use, sets the password and ends every session of the user.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from backend import runtime
from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models import User
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.identity import access, auth, codes, ratelimit

register("RESET_CODE_INVALID", 422, "重置码无效或已过期", "The reset code is invalid or expired")
access.allow("user.reset_code", {"admin"})


def issue_reset_code(actor: Actor, user_id: int) -> tuple[str, datetime]:
    """An admin's one-time reset code for a staff (or admin) account; the account's sessions live on until used."""
    access.require(actor, "user.reset_code")
    with db.tx() as s:
        user = s.get(User, user_id)
        if user is None or user.role == "subject":
            raise NotFound("user")
        if not user.active:
            raise DomainError("USER_DISABLED")
        lifetime = timedelta(hours=runtime.settings().reset_code_hours)
        code, expires = codes.replace_code(s, user.id, actor.user_id, lifetime)
        audit.record(
            s,
            "user.reset_code",
            actor=actor,
            target_type="user",
            target_id=user.id,
            details={"expires_at": expires.isoformat()},
        )
    return code, expires


def reset(code: str, password: str, device_id: str | None, client_ip: str) -> auth.TokenPair:
    """Spend a staff user's reset code to set a new password; every session ends, a fresh pair is returned."""
    ratelimit.hit(f"reset:ip:{client_ip}", runtime.settings().rate_limit_login_per_minute)
    return auth.redeem_code(
        code, password, device_id, subject_code=False, invalid="RESET_CODE_INVALID", action="auth.reset"
    )
