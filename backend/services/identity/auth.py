"""Login, activation, refresh-token rotation with reuse detection, logout, password change.

Guarantees: each call is one transaction; a refresh token is consumed by a conditional UPDATE, so two
concurrent refreshes with one token cannot both succeed, and presenting a consumed token revokes its
whole family (the device's login); disabling a user or changing a password revokes every token. An
access token lives only as long as its family (its session) does: see ``authenticate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.errors import DomainError, register
from backend.models import ActivationCode, Device, RefreshToken, User, UserUnit, utcnow
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.crypto import sha256_hex
from backend.services.identity import codes, passwords, ratelimit, throttle, tokens

#: clients that are not a known device of the account share a budget this many times a single client's
SHARED_FACTOR = 4

register(
    "ACCOUNT_RELEASED",
    401,
    "社区矫正已解除,该账号已停用",
    "The correction has ended (released); this account is closed",
)


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
    """The actor behind an access token; refused once its session (login) ended, the user was disabled or
    the token version is old.

    A token's session is its refresh-token family (``sid``): logout, reuse of a spent refresh token,
    a password change and disabling revoke the family's rows, and the user read below sees that at once
    (docs/roles.md#sign-in-and-tokens). The database alone decides, so a Redis outage keeps people in.
    """
    claims = tokens.decode_access(token)
    s = db.session
    live = (
        select(RefreshToken.id)
        .where(
            RefreshToken.family_id == claims["sid"],
            RefreshToken.user_id == User.id,
            RefreshToken.revoked_at.is_(None),
        )
        .exists()
    )
    row = s.execute(select(User, live).where(User.id == int(claims["sub"]))).first()
    if row is None:
        raise DomainError("TOKEN_INVALID")
    user, session_live = row
    if not session_live or not user.active or user.token_version != claims["tv"]:
        raise DomainError("TOKEN_INVALID")
    return actor_for(s, user), claims


def issue_pair(session: Session, user: User, device_id: str | None, family_id: str | None = None) -> TokenPair:
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
    """Check the password; one answer (INVALID_CREDENTIALS) for any wrong one, whatever the account's state.

    Failures slow the guessing client down rather than lock the account (docs/roles.md#sign-in-and-tokens):
    they are counted per username and client (a known device of the account, else the address), and per
    username for clients that are not a known device; the owner's known device is never held back by a
    stranger's guesses. Rate limits (per address; per user for unknown devices) come first, in Redis.
    """
    cfg = runtime.settings()
    name = username.lower()
    ratelimit.hit(f"login:ip:{client_ip}", cfg.rate_limit_login_per_minute * 3)
    known = bool(device_id) and _known_device(username, device_id)
    cap_s = cfg.login_lock_minutes * 60
    own = throttle.Bucket(
        f"{name}:dev:{device_id}" if known else f"{name}:ip:{client_ip}", cfg.login_max_failures, cap_s
    )
    shared = [] if known else [throttle.Bucket(f"{name}:unknown", cfg.login_max_failures * SHARED_FACTOR, cap_s)]
    if not known:
        ratelimit.hit(f"login:user:{name}", cfg.rate_limit_login_per_minute)
    throttle.attempt([own, *shared])
    pair: TokenPair | None = None
    refusal = "ACCOUNT_DISABLED"
    with db.tx() as s:
        user = s.scalar(select(User).where(User.username == username))
        if not passwords.verify_password(user.password_hash if user else None, password):
            if user is not None and user.password_hash is None and _holds_activation_code(s, user, password):
                raise DomainError("ACCOUNT_NOT_ACTIVATED")  # only the code's holder learns the account exists
            raise DomainError("INVALID_CREDENTIALS")
        if user.active:
            pair = _sign_in(s, user, password, device_id)
        elif is_released(s, user):
            refusal = "ACCOUNT_RELEASED"  # docs/roles.md#sign-in-and-tokens: released subjects' logins end
    throttle.succeeded(own, shared)  # the right password, also of a disabled account
    if pair is None:
        raise DomainError(refusal)
    return pair


def is_released(session: Session, user: User) -> bool:
    """True if the user is a subject whose correction has ended (解矫): their login was disabled for good."""
    if user.role != "subject":
        return False
    from backend.models import Subject

    return session.scalar(select(Subject.status).where(Subject.user_id == user.id)) == "released"


def _sign_in(s: Session, user: User, password: str, device_id: str | None) -> TokenPair:
    """Issue the pair of a right password (upgrading an old hash) and audit the login."""
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    pair = issue_pair(s, user, device_id)
    audit.record(
        s,
        "auth.login",
        actor=Actor(user.id, user.role, user.username),
        target_type="user",
        target_id=user.id,
        details={"device_id": device_id},
    )
    return pair


def _known_device(username: str, device_id: str) -> bool:
    """True if this device has signed in to this account before (a stranger cannot make it so)."""
    query = (
        select(Device.id)
        .join(User, User.id == Device.user_id)
        .where(User.username == username, Device.device_id == device_id)
    )
    return db.session.scalar(query.limit(1)) is not None


def _holds_activation_code(session: Session, user: User, typed: str) -> bool:
    """True if ``typed`` is the not-yet-activated user's own unspent activation code."""
    row = session.scalar(
        select(ActivationCode.id).where(
            ActivationCode.user_id == user.id,
            ActivationCode.code_hash == sha256_hex(typed.strip().upper()),
            ActivationCode.used_at.is_(None),
            ActivationCode.expires_at > utcnow(),
        )
    )
    return row is not None


def activate(code: str, password: str, device_id: str | None, client_ip: str) -> TokenPair:
    """Spend a subject's one-time activation code to set their password; log them in.

    The code is spent by a conditional UPDATE, so two concurrent activations cannot both succeed. A code an
    officer reissued works the same on an account that was already active: the new password replaces the old
    and every earlier session ends (docs/roles.md#recovery).
    """
    ratelimit.hit(f"activate:ip:{client_ip}", runtime.settings().rate_limit_login_per_minute)
    return redeem_code(
        code, password, device_id, subject_code=True, invalid="ACTIVATION_CODE_INVALID", action="auth.activate"
    )


def redeem_code(code: str, password: str, device_id: str | None, *, subject_code: bool, invalid: str, action: str):
    """Spend a one-time code (a subject's activation code or a staff reset code) to set the password: every
    earlier session ends and a fresh token pair is returned; ``action`` names the audit row."""
    passwords.check_policy(password)
    with db.tx() as s:
        user = codes.spend(s, code, subject_code=subject_code, invalid=invalid)
        user.password_hash = passwords.hash_password(password)
        user.password_changed_at = utcnow()
        revoke_all(s, user)
        pair = issue_pair(s, user, device_id)
        audit.record(s, action, actor=Actor(user.id, user.role, user.username), target_type="user", target_id=user.id)
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
            pair = issue_pair(s, user, device_id or row.device_id, row.family_id)
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
        pair = issue_pair(s, user, device_id)
        audit.record(s, "auth.password_change", actor=actor, target_type="user", target_id=user.id)
    return pair


def register_device(actor: Actor, device_id: str, platform: str | None, push_token: str | None) -> Device:
    with db.tx() as s:
        dev = _touch_device(s, actor.user_id, device_id, platform=platform, push_token=push_token)
        audit.record(s, "device.register", actor=actor, target_type="device", target_id=dev.id)
    return dev


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
