"""Enrolment (入矫), profile reads and recorded changes of supervision level and risk."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.errors import DomainError
from backend.models import OrgUnit, Subject, SubjectChange, User, UserUnit
from backend.models.subject import CORRECTION_TYPES, GENDERS, RISK_LEVELS, SUPERVISION_LEVELS
from backend.services.core import audit, crypto, delivery
from backend.services.core.actors import Actor
from backend.services.core.notifications import notify
from backend.services.identity import access, codes
from backend.services.subjects import idcard, levels
from backend.services.subjects.hooks import RISK_HOOKS

access.allow("subject.activation_code", {"officer", "bureau"})

TRACKED_FIELDS = ("supervision_level", "risk_level", "officer_id", "grid_id", "phone", "end_date")


@dataclass
class Enrolment:
    subject: Subject
    username: str
    activation_code: str
    activation_expires_at: object


def _check_units(session: Session, actor: Actor, office_id: int, grid_id: int) -> None:
    office = session.get(OrgUnit, office_id)
    grid = session.get(OrgUnit, grid_id)
    if office is None or office.level != "office" or not access.office_in_scope(session, actor, office_id):
        raise DomainError("ORG_UNIT_INVALID", {"office_id": ["not an office in your jurisdiction"]})
    if grid is None or grid.level != "grid" or grid.parent_id != office_id:
        raise DomainError("ORG_UNIT_INVALID", {"grid_id": ["not a grid of this office"]})


def _check_officer(session: Session, office_id: int, officer_id: int | None) -> None:
    if officer_id is None:
        return
    ok = session.scalar(
        select(User.id)
        .join(UserUnit, UserUnit.user_id == User.id)
        .where(User.id == officer_id, User.role == "officer", UserUnit.org_unit_id == office_id)
    )
    if ok is None:
        raise DomainError("OFFICER_INVALID")


def enrol(actor: Actor, data: dict) -> Enrolment:
    """Create the subject and their (not yet activated) login; return the one-time activation code.

    One transaction. A second enrolment of the same 身份证号 is refused by the unique keyed hash even when
    both arrive at once (the losing insert becomes ID_NUMBER_DUPLICATE, not a crash).
    """
    access.require(actor, "subject.enrol")
    id_number = idcard.normalise(data["id_number"])
    if not idcard.is_valid(id_number):
        raise DomainError("ID_NUMBER_INVALID", {"id_number": ["18 characters with a valid MOD 11-2 check digit"]})
    if data["gender"] not in GENDERS or data["correction_type"] not in CORRECTION_TYPES:
        raise DomainError("VALIDATION_FAILED", {"gender": ["unknown value"]})
    if data["end_date"] < data["start_date"]:
        raise DomainError("DATES_INVALID", {"end_date": ["before start_date"]})
    lookup = crypto.lookup_hash(id_number)
    try:
        with db.tx() as s:
            subject, username, code, expires = _create(s, actor, data, id_number, lookup)
    except IntegrityError as exc:  # a concurrent enrolment won the race; the session is unusable now
        if "id_number_hash" in str(exc.orig):
            raise DomainError("ID_NUMBER_DUPLICATE") from exc
        if "username" in str(exc.orig):
            raise DomainError("USERNAME_TAKEN") from exc
        raise
    return Enrolment(subject, username, code, expires)


def _create(s: Session, actor: Actor, data: dict, id_number: str, lookup: str) -> tuple:
    _check_units(s, actor, data["office_id"], data["grid_id"])
    officer_id = data.get("officer_id") or (actor.user_id if actor.role == "officer" else None)
    _check_officer(s, data["office_id"], officer_id)
    if s.scalar(select(Subject.id).where(Subject.id_number_hash == lookup)) is not None:
        raise DomainError("ID_NUMBER_DUPLICATE")
    username = data.get("username") or _free_username(s)
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise DomainError("USERNAME_TAKEN")
    user = User(username=username, role="subject", display_name=data["name"], password_hash=None)
    s.add(user)
    s.flush()
    subject = Subject(
        user_id=user.id,
        name=data["name"],
        gender=data["gender"],
        id_number_enc=crypto.encrypt(id_number),
        id_number_hash=lookup,
        phone=data.get("phone"),
        correction_type=data["correction_type"],
        start_date=data["start_date"],
        end_date=data["end_date"],
        supervision_level=data.get("supervision_level") or "normal",
        risk_level=data.get("risk_level") or "medium",
        office_id=data["office_id"],
        grid_id=data["grid_id"],
        officer_id=officer_id,
        created_by=actor.user_id,
        status="in_correction",
    )
    s.add(subject)
    s.flush()
    levels.record_start(s, subject, actor.user_id)  # the level history (docs/education-and-service.md)
    code, expires = issue_activation_code(s, user.id, actor.user_id)
    notify(
        s,
        user.id,
        "welcome",
        "欢迎使用在矫通",
        "请按时报到打卡;外出、会客等事项须提前在 App 中申请。",
        data={"subject_id": subject.id, "start_date": subject.start_date.isoformat()},
    )
    audit.record(
        s,
        "subject.enrol",
        actor=actor,
        target_type="subject",
        target_id=subject.id,
        details={"office_id": subject.office_id, "grid_id": subject.grid_id},
    )
    return subject, username, code, expires


def _free_username(session: Session) -> str:
    """A random login name such as s04718253 that nobody has yet."""
    for _ in range(20):
        name = f"s{secrets.randbelow(10**8):08d}"
        if session.scalar(select(User.id).where(User.username == name)) is None:
            return name
    raise DomainError("USERNAME_TAKEN")


def issue_activation_code(session: Session, user_id: int, created_by: int | None) -> tuple[str, object]:
    """Store a new one-time code (hashed) for ``user_id``, killing any unspent one; return the code and its expiry."""
    lifetime = timedelta(days=runtime.settings().activation_code_days)
    code, expires = codes.replace_code(session, user_id, created_by, lifetime)
    delivery.sms_activation_code(session, user_id, code, expires)  # also by SMS (docs/schedules.md#delivery)
    return code, expires


def reissue_activation_code(actor: Actor, subject_id: int) -> tuple[Subject, str, object]:
    """A new activation code for a subject whose code lapsed or who forgot the password (docs/roles.md#recovery).

    The old code dies; activating with the new one sets a new password and ends every session.
    """
    access.require(actor, "subject.activation_code")
    with db.tx() as s:
        subject = access.get_subject(s, actor, subject_id)
        if subject.status != "in_correction":
            raise DomainError("SUBJECT_RELEASED")
        user = s.get(User, subject.user_id)
        if user is None or not user.active:
            raise DomainError("USER_DISABLED")
        code, expires = issue_activation_code(s, user.id, actor.user_id)
        audit.record(
            s,
            "subject.activation_code",
            actor=actor,
            target_type="subject",
            target_id=subject.id,
            details={"expires_at": expires.isoformat()},
        )
    return subject, code, expires


def get(actor: Actor, subject_id: int) -> Subject:
    """A subject in the actor's jurisdiction (404 otherwise)."""
    access.require(actor, "subject.read")
    return access.get_subject(db.session, actor, subject_id)


def reveal_id_number(actor: Actor, subject_id: int, purpose: str | None) -> str:
    """The full 身份证号, for staff who need it; the read is audited with its purpose."""
    access.require(actor, "subject.reveal_id_number")
    if not purpose or not purpose.strip():
        raise DomainError("PURPOSE_REQUIRED")
    with db.tx() as s:
        subject = access.get_subject(s, actor, subject_id)
        audit.record(
            s,
            "subject.read_id_number",
            actor=actor,
            target_type="subject",
            target_id=subject.id,
            purpose=purpose.strip(),
        )
    return crypto.decrypt(subject.id_number_enc)


def masked_id_number(subject: Subject) -> str:
    """The 身份证号 as 330***********123X, for responses."""
    return idcard.mask(crypto.decrypt(subject.id_number_enc))


def update(actor: Actor, subject_id: int, changes: dict, reason: str | None) -> Subject:
    """Change supervision level, risk level, officer, grid, phone or end date; each change is recorded."""
    access.require(actor, "subject.update")
    with db.tx() as s:
        subject = access.get_subject(s, actor, subject_id)
        if subject.status != "in_correction":
            raise DomainError("SUBJECT_RELEASED")
        if "supervision_level" in changes and changes["supervision_level"] not in SUPERVISION_LEVELS:
            raise DomainError("VALIDATION_FAILED", {"supervision_level": ["unknown level"]})
        if "risk_level" in changes and changes["risk_level"] not in RISK_LEVELS:
            raise DomainError("VALIDATION_FAILED", {"risk_level": ["unknown level"]})
        if "grid_id" in changes:
            _check_units(s, actor, subject.office_id, changes["grid_id"])
        if "officer_id" in changes:
            _check_officer(s, subject.office_id, changes["officer_id"])
        if "end_date" in changes and changes["end_date"] < subject.start_date:
            raise DomainError("DATES_INVALID", {"end_date": ["before start_date"]})
        recorded = {}
        for field in TRACKED_FIELDS:
            if field not in changes:
                continue
            old, new = getattr(subject, field), changes[field]
            if old == new:
                continue
            if field == "supervision_level":  # the level in force from today on (the level history)
                levels.record_change(s, subject, old, new, by=actor.user_id, reason=reason)
            setattr(subject, field, new)
            s.add(
                SubjectChange(
                    subject_id=subject.id,
                    field=field,
                    old_value=_str(old),
                    new_value=_str(new),
                    reason=reason,
                    changed_by=actor.user_id,
                )
            )
            recorded[field] = {"from": _str(old), "to": _str(new)}
        if "risk_level" in recorded:  # a risk reassessment re-derives the score's risk dimension (scoring's hook)
            for hook in RISK_HOOKS:
                hook(s, subject, recorded["risk_level"]["from"], subject.risk_level, "risk_assessment")
        if recorded:
            audit.record(
                s,
                "subject.update",
                actor=actor,
                target_type="subject",
                target_id=subject.id,
                details={"changes": recorded, "reason": reason},
            )
    return subject


def record_export(actor: Actor, count: int, filters: dict) -> None:
    """Audit a CSV export of a subject list (personal data leaving the system in bulk)."""
    with db.tx() as s:
        details = {"rows": count, "filters": filters}
        audit.record(s, "subject.export", actor=actor, target_type="subject", details=details)


def changes_of(session: Session, subject_id: int) -> list[SubjectChange]:
    """Recorded profile changes of a subject, newest first."""
    return list(
        session.scalars(
            select(SubjectChange).where(SubjectChange.subject_id == subject_id).order_by(SubjectChange.id.desc())
        )
    )


def _str(v: object) -> str | None:
    if v is None:
        return None
    return v.isoformat() if isinstance(v, date) else str(v)
