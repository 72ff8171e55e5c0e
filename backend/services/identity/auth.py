"""Login, activation, refresh-token rotation with reuse detection, logout, password change.

Guarantees: each call is one transaction; a refresh token is consumed by a conditional UPDATE, so two
concurrent refreshes with one token cannot both succeed, and presenting a consumed token revokes its
whole family (the device's login); disabling a user or changing a password revokes every token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.errors import DomainError, NotFound
from backend.models import ActivationCode, Device, RefreshToken, User, UserUnit, utcnow
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.crypto import sha256_hex
from backend.services.identity import passwords, ratelimit, tokens


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def actor_for(session: Session, user: User) -> Actor:
    unit_ids = tuple(session.scalars(select(UserUnit.org_unit_id).where(UserUnit.user_id == user.id)).all())
    subject_id = None
    if user.role == "subject":
        from backend.models import Subject

        subject_id = session.scalar(select(Subject.id).where(Subject.user_id == user.id))
    return Actor(user.id, user.role, user.username, unit_ids, subject_id)


def authenticate(token: str) -> tuple[Actor, dict]:
    """The actor behind an access token; refused if the user was disabled or the token version is old."""
    claims = tokens.decode_access(token)
    s = db.session
    user = s.get(User, int(claims["sub"]))
    if user is None or not user.active or user.token_version != claims["tv"]:
        raise DomainError("TOKEN_INVALID")
    return actor_for(s, user), claims


def _issue(session: Session, user: User, device_id: str | None, family_id: str | None = None) -> TokenPair:
    family = family_id or tokens.new_family_id()
    raw = tokens.new_refresh_token()
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family,
            device_id=device_id,
            token_hash=sha256_hex(raw),
            expires_at=utcnow() + timedelta(days=runtime.settings().refresh_token_days),
        )
    )
    if device_id:
        _touch_device(session, user.id, device_id)
    access, lifetime = tokens.issue_access(user.id, user.role, user.token_version, family)
    return TokenPair(access, raw, lifetime, user)


def _touch_device(session: Session, user_id: int, device_id: str, **fields) -> Device:
    """The user's row for this device, created on first sight (two first logins at once make one row)."""
    query = select(Device).where(Device.user_id == user_id, Device.device_id == device_id)
    dev = session.scalar(query)
    if dev is None:
        try:
            with session.begin_nested():
                dev = Device(user_id=user_id, device_id=device_id)
                session.add(dev)
        except IntegrityError:
            dev = session.scalar(query)
    dev.last_seen_at = utcnow()
    for k, v in fields.items():
        setattr(dev, k, v)
    session.flush()
    return dev


def login(username: str, password: str, device_id: str | None, client_ip: str) -> TokenPair:
    """Check the password; lock the account after LOGIN_MAX_FAILURES failures in a row.

    Rate limits (per user and per address) are counted in Redis before anything else. A failure is
    counted with an atomic UPDATE and committed before the refusal, so concurrent wrong guesses cannot
    undercount, and the guess that reaches the limit is already answered ACCOUNT_LOCKED.
    """
    cfg = runtime.settings()
    ratelimit.hit(f"login:ip:{client_ip}", cfg.rate_limit_login_per_minute * 3)
    ratelimit.hit(f"login:user:{username.lower()}", cfg.rate_limit_login_per_minute)
    failure: DomainError | None = None
    with db.tx() as s:
        user = s.scalar(select(User).where(User.username == username))
        now = utcnow()
        if user is not None and user.locked_until is not None and user.locked_until > now:
            raise DomainError("ACCOUNT_LOCKED", retry_after=_seconds_until(user.locked_until))
        if not passwords.verify_password(user.password_hash if user else None, password):
            if user is None:
                raise DomainError("INVALID_CREDENTIALS")
            if user.password_hash is None:
                raise DomainError("ACCOUNT_NOT_ACTIVATED")
            failure = _count_failure(s, user)
        elif not user.active:
            raise DomainError("ACCOUNT_DISABLED")
        else:
            user.failed_logins = 0
            user.locked_until = None
            if passwords.needs_rehash(user.password_hash):
                user.password_hash = passwords.hash_password(password)
            pair = _issue(s, user, device_id)
            audit.record(
                s,
                "auth.login",
                actor=Actor(user.id, user.role, user.username),
                target_type="user",
                target_id=user.id,
                details={"device_id": device_id},
            )
    if failure is not None:  # committed the counter first, then refuse
        raise failure
    return pair


def _seconds_until(moment) -> int:
    return max(int((moment - utcnow()).total_seconds()) + 1, 1)


def _count_failure(session: Session, user: User) -> DomainError:
    cfg = runtime.settings()
    count = session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    if count < cfg.login_max_failures:
        return DomainError("INVALID_CREDENTIALS")
    until = utcnow() + timedelta(minutes=cfg.login_lock_minutes)
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=0, locked_until=until)
        .execution_options(synchronize_session=False)
    )
    audit.record(session, "auth.locked", target_type="user", target_id=user.id, details={"failures": count})
    return DomainError("ACCOUNT_LOCKED", retry_after=_seconds_until(until))


def activate(code: str, password: str, device_id: str | None, client_ip: str) -> TokenPair:
    """Spend a subject's one-time activation code to set their password; log them in.

    The code is spent by a conditional UPDATE, so two concurrent activations cannot both succeed.
    """
    ratelimit.hit(f"activate:ip:{client_ip}", runtime.settings().rate_limit_login_per_minute)
    passwords.check_policy(password)
    with db.tx() as s:
        now = utcnow()
        row = s.scalar(select(ActivationCode).where(ActivationCode.code_hash == sha256_hex(code.strip().upper())))
        if row is None or row.used_at is not None or row.expires_at < now:
            raise DomainError("ACTIVATION_CODE_INVALID")
        user = s.get(User, row.user_id)
        if user is None or not user.active:
            raise DomainError("ACTIVATION_CODE_INVALID")
        spent = s.execute(
            update(ActivationCode)
            .where(ActivationCode.id == row.id, ActivationCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if spent != 1:
            raise DomainError("ACTIVATION_CODE_INVALID")
        user.password_hash = passwords.hash_password(password)
        user.password_changed_at = now
        user.failed_logins = 0
        user.locked_until = None
        pair = _issue(s, user, device_id)
        audit.record(
            s, "auth.activate", actor=Actor(user.id, user.role, user.username), target_type="user", target_id=user.id
        )
    return pair


def refresh(raw: str, device_id: str | None) -> TokenPair:
    """Spend a refresh token for a new pair in the same family; a spent token presented again revokes the family."""
    revoke_family: str | None = None
    with db.tx() as s:
        now = utcnow()
        row = s.scalar(select(RefreshToken).where(RefreshToken.token_hash == sha256_hex(raw)))
        if row is None or row.expires_at < now:
            raise DomainError("REFRESH_TOKEN_INVALID")
        if row.revoked_at is not None and row.used_at is None:
            raise DomainError("REFRESH_TOKEN_INVALID")
        consumed = s.execute(
            update(RefreshToken)
            .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        user = s.get(User, row.user_id)
        if consumed != 1:
            revoke_family = row.family_id
        elif user is None or not user.active:
            raise DomainError("REFRESH_TOKEN_INVALID")
        else:
            pair = _issue(s, user, device_id or row.device_id, row.family_id)
    if revoke_family is not None:
        with db.tx() as s:
            _revoke_family(s, revoke_family)
            audit.record(s, "auth.refresh_reuse", target_type="token_family", target_id=revoke_family)
        raise DomainError("REFRESH_TOKEN_REUSED")
    return pair


def _revoke_family(session: Session, family_id: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def revoke_all(session: Session, user: User) -> None:
    """Kill every refresh token and (by bumping the token version) every access token of a user."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    user.token_version += 1


def logout(actor: Actor, family_id: str) -> None:
    """Revoke this login's refresh tokens and every other one issued to the same device."""
    with db.tx() as s:
        device_id = s.scalar(
            select(RefreshToken.device_id).where(RefreshToken.family_id == family_id).order_by(RefreshToken.id.desc())
        )
        _revoke_family(s, family_id)
        if device_id:
            s.execute(
                update(RefreshToken)
                .where(
                    RefreshToken.user_id == actor.user_id,
                    RefreshToken.device_id == device_id,
                    RefreshToken.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        audit.record(
            s, "auth.logout", actor=actor, target_type="user", target_id=actor.user_id, details={"device_id": device_id}
        )


def change_password(actor: Actor, old: str, new: str, family_id: str | None = None) -> TokenPair:
    """Set a new password (old one required); every token of the user dies, a fresh pair is returned."""
    ratelimit.hit(f"password:user:{actor.user_id}", runtime.settings().rate_limit_login_per_minute)
    passwords.check_policy(new)
    with db.tx() as s:
        user = s.get(User, actor.user_id)
        if user is None:
            raise DomainError("TOKEN_INVALID")
        if not passwords.verify_password(user.password_hash, old):
            raise DomainError("WRONG_PASSWORD")
        device_id = None
        if family_id:
            device_id = s.scalar(
                select(RefreshToken.device_id)
                .where(RefreshToken.family_id == family_id)
                .order_by(RefreshToken.id.desc())
            )
        user.password_hash = passwords.hash_password(new)
        user.password_changed_at = utcnow()
        revoke_all(s, user)
        pair = _issue(s, user, device_id)
        audit.record(s, "auth.password_change", actor=actor, target_type="user", target_id=user.id)
    return pair


def register_device(actor: Actor, device_id: str, platform: str | None, push_token: str | None) -> Device:
    with db.tx() as s:
        dev = _touch_device(s, actor.user_id, device_id, platform=platform, push_token=push_token)
        audit.record(s, "device.register", actor=actor, target_type="device", target_id=dev.id)
    return dev


def set_active(actor: Actor, user_id: int, active: bool) -> User:
    """Enable or disable a user; disabling revokes all their tokens at once."""
    with db.tx() as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("user")
        if user.active == active:
            return user
        user.active = active
        if not active:
            revoke_all(s, user)
        audit.record(s, "user.enable" if active else "user.disable", actor=actor, target_type="user", target_id=user.id)
    return user


def purge_refresh_tokens(keep_days: int = 30) -> int:
    """Delete refresh tokens that expired, or were spent or revoked, more than ``keep_days`` ago.

    Reuse detection needs a spent token's row only while the token itself could still be presented, i.e.
    until it expires; ``keep_days`` past that leaves room for investigating a reuse. One audit row per run.
    """
    from sqlalchemy import delete, or_

    cutoff = utcnow() - timedelta(days=keep_days)
    with db.tx() as s:
        gone = (
            s.execute(
                delete(RefreshToken).where(or_(RefreshToken.expires_at < cutoff, RefreshToken.revoked_at < cutoff))
            ).rowcount
            or 0
        )
        if gone:
            audit.record(s, "auth.purge_refresh_tokens", details={"count": gone, "keep_days": keep_days})
    return gone
