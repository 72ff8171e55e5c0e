"""Release (解矫): the case ends — score frozen, export record for the provincial platform, login and open work closed.

Rules in docs/score.md#release-and-export. In one transaction, ``release``:

- freezes the score and writes the export record (``EXPORT_FORMAT``) with the full ID number sealed to the
  provincial platform's key and the record signed with ours (``export_seal``; both keys outside the database);
- disables the subject's login: the account is deactivated, every refresh-token family revoked and the
  token version bumped (so an access token already issued is refused at once), unspent activation codes die;
- closes the subject's open work: open warnings are handled with the outcome ``released``; the features
  above scoring close theirs through ``CLOSERS`` (open requests cancelled, suggestions dismissed with the
  reason ``released``); the release hooks of ``subjects.hooks.RELEASE_HOOKS`` run (face data deleted);
- notifies the officers of the subject's office.

Idempotent: releasing a released subject returns the existing record. The bureau fetches the record as a file
(``export_file``: record + signature) and records its handover to the platform (``handover``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.errors import DomainError, register
from backend.models import ActivationCode, OrgUnit, Subject, User, UserUnit, Warning, utcnow
from backend.models.release import ReleaseExport
from backend.models.scoring import ScoreRelease, SubjectScore
from backend.services.core import audit, crypto, rowlocks
from backend.services.core.actors import Actor
from backend.services.core.notifications import notify
from backend.services.core.warnings import WARNING_STATES
from backend.services.identity import access, auth
from backend.services.scoring import export_seal, read, score
from backend.services.scoring.rules import current
from backend.services.subjects import profiles
from backend.services.subjects.hooks import RELEASE_HOOKS

access.allow("scoring.release", {"officer", "bureau"})
access.allow("scoring.export", {"officer", "bureau"})
access.allow("scoring.export.file", {"bureau"})
access.allow("scoring.export.handover", {"bureau"})
#: v2: the subject carries ``id_number_sealed`` (the full ID number, sealed to the provincial platform)
EXPORT_FORMAT = "zhijiao.credit_correction_export.v2"
FILE_FORMAT = "zhijiao.credit_correction_export_file.v1"
#: the outcome of warnings and the dismiss reason of suggestions closed by a release
REASON = "released"

for _c in [
    (
        "EXPORT_KEY_MISSING",
        409,
        "未配置省级平台的公钥(EXPORT_RECIPIENT_KEY),无法生成解矫导出记录",
        "The provincial platform's public key (EXPORT_RECIPIENT_KEY) is not configured; no export record can be made",
    ),
    (
        "EXPORT_ALREADY_HANDED_OVER",
        409,
        "该导出记录已移交,移交信息不能更改",
        "The export record was already handed over with other details",
    ),
    (
        "EXPORT_FILE_MISMATCH",
        422,
        "所移交文件的摘要与导出记录不符",
        "The SHA-256 given is not the digest of this subject's export file",
    ),
]:
    register(*_c)

#: fn(session, subject, actor) -> {"<what>": [ids closed]}: run in the release transaction by the features
#: above scoring (requests, suggestions), which register with ``@closer``
ReleaseCloser = Callable[[Session, Subject, Actor], dict[str, list[int]]]
CLOSERS: dict[str, ReleaseCloser] = {}


def closer(fn: ReleaseCloser) -> ReleaseCloser:
    """Register a feature's closing of a released subject's open items (once per function)."""
    CLOSERS[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def release(actor: Actor, subject_id: int, note: str | None) -> ScoreRelease:
    """Release the subject: the score is frozen as it stands, the export record written, the case closed."""
    access.require(actor, "scoring.release")
    with db.tx() as s:
        subject = access.get_subject(s, actor, subject_id)
        subject = rowlocks.lock(s, Subject, subject.id)  # two releases at once: the second waits, then returns
        existing = s.get(ScoreRelease, subject.id, populate_existing=True)
        if existing is not None:
            return existing
        if subject.status != "in_correction":
            raise DomainError("SUBJECT_RELEASED")
        recipient = runtime.settings().export_recipient_public()
        if recipient is None:
            raise DomainError("EXPORT_KEY_MISSING")
        row = score.lock(s, subject, current(s))
        s.execute(update(SubjectScore).where(SubjectScore.subject_id == subject.id).values(frozen=True))
        now = utcnow()
        subject.status, subject.released_at = "released", now
        s.flush()
        record = _record(s, subject, now, note, recipient)
        rel = ScoreRelease(
            subject_id=subject.id,
            released_at=now,
            released_by=actor.user_id,
            total=row["total"],
            grade=row["grade"],
            record=record,
        )
        s.add(rel)
        signature = export_seal.sign(record)
        s.add(
            ReleaseExport(
                subject_id=subject.id,
                signature=signature["value"],
                signing_key_id=signature["key_id"],
                recipient_key_id=record["subject"]["id_number_sealed"]["recipient_key_id"],
                signed_at=now,
            )
        )
        _end_login(s, subject)
        closed = {"warnings": _close_warnings(s, subject, actor)}
        for fn in CLOSERS.values():
            closed.update(fn(s, subject, actor))
        for hook in RELEASE_HOOKS:
            hook(s, subject)
        officers = _notify_officers(s, subject, actor, closed)
        audit.record(
            s,
            "subject.release",
            actor=actor,
            target_type="subject",
            target_id=subject.id,
            details={
                "total": row["total"],
                "grade": row["grade"],
                "note": note,
                "closed": {k: sorted(v) for k, v in closed.items()},
                "officers_notified": officers,
                "signing_key_id": signature["key_id"],
            },
        )
    return rel


def _record(s: Session, subject: Subject, now, note: str | None, recipient: bytes) -> dict:
    view = read.view(subject)
    office = s.get(OrgUnit, subject.office_id)
    return {
        "format": EXPORT_FORMAT,
        "subject": {
            "id": subject.id,
            "name": subject.name,
            "id_number_masked": profiles.masked_id_number(subject),
            "id_number_sealed": export_seal.seal(
                crypto.decrypt(subject.id_number_enc), recipient, EXPORT_FORMAT, subject.id
            ),
            "correction_type": subject.correction_type,
            "start_date": subject.start_date.isoformat(),
            "end_date": subject.end_date.isoformat(),
            "office_code": office.code if office else None,
        },
        "released_at": now.isoformat(),
        "final_score": {
            k: view[k]
            for k in (
                "total",
                "public_base",
                "base_pending",
                "management",
                "dimensions",
                "grade",
                "grade_name",
                "colour",
            )
        },
        "city_conversions": view["city_conversions"],
        "rule_version": view["rule_version"],
        "note": note,
    }


def _end_login(s: Session, subject: Subject) -> None:
    """The account is disabled and every session ends (refresh tokens revoked, access tokens refused)."""
    user = s.get(User, subject.user_id)
    if user is None:
        return
    user.active = False
    auth.revoke_all(s, user)
    s.execute(
        update(ActivationCode)
        .where(
            ActivationCode.user_id == user.id, ActivationCode.used_at.is_(None), ActivationCode.expires_at > utcnow()
        )
        .values(expires_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def _close_warnings(s: Session, subject: Subject, actor: Actor) -> list[int]:
    """Every unhandled warning of the subject is handled with the outcome ``released`` (no kind's hook runs)."""
    open_warnings = s.scalars(
        select(Warning).where(Warning.subject_id == subject.id, Warning.status != "handled").order_by(Warning.id)
    ).all()
    now = utcnow()
    for w in open_warnings:
        WARNING_STATES.apply(w, "handled")
        w.handled_at, w.handled_by, w.outcome, w.note = now, actor.user_id, REASON, "解矫 released"
        audit.record(
            s,
            "warning.handle",
            actor=actor,
            target_type="warning",
            target_id=w.id,
            details={"kind": w.kind, "outcome": REASON, "subject_id": subject.id, "hook": False},
        )
    return [w.id for w in open_warnings]


def _notify_officers(s: Session, subject: Subject, actor: Actor, closed: dict[str, list[int]]) -> list[int]:
    """Tell the subject's officer and the other active officers of their office (not the releasing user)."""
    ids = set(
        s.scalars(
            select(User.id)
            .join(UserUnit, UserUnit.user_id == User.id)
            .where(UserUnit.org_unit_id == subject.office_id, User.role == "officer", User.active.is_(True))
        )
    )
    if subject.officer_id is not None:
        ids.add(subject.officer_id)
    ids.discard(actor.user_id)
    counts = {k: len(v) for k, v in closed.items()}
    body = f"{subject.name}已解除社区矫正;已关闭的待办:" + ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
    for uid in sorted(ids):
        notify(s, uid, "subject_released", f"解矫:{subject.name}", body, data={"subject_id": subject.id, **counts})
    return sorted(ids)


def export(actor: Actor, subject_id: int) -> ScoreRelease:
    """The release export record (JSON) of a released subject."""
    access.require(actor, "scoring.export")
    s = db.session
    subject = access.get_subject(s, actor, subject_id)
    rel = s.get(ScoreRelease, subject.id)
    if rel is None:
        raise DomainError("SUBJECT_NOT_RELEASED")
    return rel


@dataclass(frozen=True)
class ExportFile:
    subject_id: int
    filename: str
    body: bytes
    sha256: str


def _file(rel: ScoreRelease, signed: ReleaseExport) -> ExportFile:
    public = export_seal.signing_public_key()
    # signed under an earlier key: the platform already holds that key by its id
    same_key = export_seal.key_id(public) == signed.signing_key_id
    public_b64 = export_seal.public_key_b64(public) if same_key else None
    content = {
        "format": FILE_FORMAT,
        "record": rel.record,
        "signature": {
            "alg": export_seal.SIGN_ALG,
            "key_id": signed.signing_key_id,
            "public_key": public_b64,
            "value": signed.signature,
            "signed": "the record's canonical JSON: keys sorted, no spaces, UTF-8",
        },
    }
    body = (json.dumps(content, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode()
    return ExportFile(rel.subject_id, f"zhijiao-export-{rel.subject_id}.json", body, crypto.sha256_hex(body))


def _signed(s: Session, rel: ScoreRelease) -> ReleaseExport:
    """The record's signature row; a record released before signatures existed is signed on first use."""
    signed = s.get(ReleaseExport, rel.subject_id)
    if signed is None:
        signature = export_seal.sign(rel.record)
        sealed = (rel.record.get("subject") or {}).get("id_number_sealed") or {}
        signed = ReleaseExport(
            subject_id=rel.subject_id,
            signature=signature["value"],
            signing_key_id=signature["key_id"],
            recipient_key_id=sealed.get("recipient_key_id"),
            signed_at=utcnow(),
        )
        s.add(signed)
        s.flush()
    return signed


def _released(s: Session, actor: Actor, subject_id: int) -> ScoreRelease:
    subject = access.get_subject(s, actor, subject_id)
    rel = s.get(ScoreRelease, subject.id)
    if rel is None:
        raise DomainError("SUBJECT_NOT_RELEASED")
    return rel


def export_file(actor: Actor, subject_id: int) -> ExportFile:
    """The export file for the provincial platform (record + signature), as the bureau downloads it; audited."""
    access.require(actor, "scoring.export.file")
    with db.tx() as s:
        rel = _released(s, actor, subject_id)
        out = _file(rel, _signed(s, rel))
        audit.record(
            s,
            "subject.export_file",
            actor=actor,
            target_type="subject",
            target_id=rel.subject_id,
            details={"sha256": out.sha256},
        )
    return out


def handover(actor: Actor, subject_id: int, data: dict) -> ReleaseExport:
    """Record that the export file was handed over to the provincial platform: who, when, which file; audited.

    Recording it again with the same reference returns it as it is; other details afterwards are 409.
    """
    access.require(actor, "scoring.export.handover")
    reference, note, given = data["reference"].strip(), data.get("note"), data.get("file_sha256")
    with db.tx() as s:
        rel = _released(s, actor, subject_id)
        signed = rowlocks.lock(s, ReleaseExport, rel.subject_id) or _signed(s, rel)
        digest = _file(rel, signed).sha256
        if given is not None and given.lower() != digest:
            raise DomainError("EXPORT_FILE_MISMATCH", context={"sha256": digest})
        if signed.handed_over_at is not None:
            if signed.handover_reference == reference:
                return signed
            raise DomainError("EXPORT_ALREADY_HANDED_OVER", context={"reference": signed.handover_reference})
        signed.handed_over_at, signed.handed_over_by = utcnow(), actor.user_id
        signed.handover_reference, signed.handover_note, signed.file_sha256 = reference, note, digest
        audit.record(
            s,
            "subject.export_handover",
            actor=actor,
            target_type="subject",
            target_id=rel.subject_id,
            details={"reference": reference, "sha256": digest},
        )
    return signed
