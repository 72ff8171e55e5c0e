"""The current score of one subject: created on first use, changed under a row lock, every change dated.

Guarantee: a change reads the row with SELECT … FOR UPDATE (after the shared score lock), derives the
new values from the locked row and writes them in the caller's transaction, so concurrent events for
one subject serialise and lose no points; a bulk recompute (exclusive lock) never interleaves.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from backend.errors import NotFound
from backend.models import PublicCreditBase, Subject, utcnow
from backend.models.scoring import DIMENSIONS, ScoreChange, ScoreEvent, SubjectScore
from backend.services.scoring import effects
from backend.services.scoring import rules as rules_mod
from backend.services.scoring.derive import VISIBLE, derive
from backend.services.scoring.rules import Rules
from backend.services.scoring.sql import SCORE_LOCK, insert_ignore, is_pg, lock_single

T = SubjectScore.__table__
_KEEP = object()
_BEGIN = text(
    "SELECT pg_advisory_xact_lock_shared(:k) AS locked, v.version, v.published_at FROM (SELECT 1) AS one "
    "LEFT JOIN (SELECT version, published_at FROM rule_sets ORDER BY version DESC LIMIT 1) AS v ON true"
)


def ledger_sums(session: Session, subject_id: int) -> dict[str, int]:
    """Sums of the subject's active events per dimension, straight from the ledger."""
    rows = session.execute(
        select(ScoreEvent.dimension, func.sum(ScoreEvent.points))
        .where(ScoreEvent.subject_id == subject_id, ScoreEvent.status == "active")
        .group_by(ScoreEvent.dimension)
    ).all()
    sums = dict.fromkeys(DIMENSIONS, 0)
    sums.update({d: int(v or 0) for d, v in rows})
    return sums


def latest_base(session: Session, subject_id: int) -> tuple[int | None, date | None]:
    row = session.execute(
        select(PublicCreditBase.provincial_score, PublicCreditBase.as_of)
        .where(PublicCreditBase.subject_id == subject_id)
        .order_by(PublicCreditBase.as_of.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else (None, None)


def expected(session: Session, subject: Subject, rules: Rules) -> dict:
    """What the score must be, recomputed from the ledger and the latest base."""
    provincial, as_of = latest_base(session, subject.id)
    return {**derive(rules, ledger_sums(session, subject.id), subject.risk_level, provincial), "base_as_of": as_of}


def begin(session: Session) -> Rules:
    """Take the shared score lock and return the rule set in force: one round trip on PostgreSQL."""
    if is_pg(session) and not session.info.get("score_lock"):
        row = session.execute(_BEGIN, {"k": SCORE_LOCK}).first()
        session.info["score_lock"] = "shared"
        if row.version is not None:
            return rules_mod.load(session, row.version, row.published_at)
    return rules_mod.current(session)


def _id(subject: Subject | int) -> int:
    return subject if isinstance(subject, int) else subject.id


def lock(session: Session, subject: Subject | int, rules: Rules) -> RowMapping:
    """The subject's score row (with the subject's risk level), locked for this transaction; created from
    the ledger if missing. Takes the shared score lock first, so a bulk recompute never interleaves."""
    lock_single(session)
    sid = _id(subject)
    stmt = (
        select(T, Subject.risk_level)
        .join(Subject, Subject.id == T.c.subject_id)
        .where(T.c.subject_id == sid)
        .with_for_update(of=T)
    )
    row = session.execute(stmt).mappings().first()
    if row is None:
        subj = session.get(Subject, sid) if isinstance(subject, int) else subject
        if subj is None:
            raise NotFound("subject")
        values = expected(session, subj, rules)
        row = {"subject_id": sid, **values, "updated_at": utcnow()}
        if insert_ignore(session, T, row, ["subject_id"], returning=[T.c.subject_id]).scalar() is not None:
            _record(session, sid, None, values, rules, "initial", None, utcnow(), {})  # not when a racer created it
        row = session.execute(stmt).mappings().first()
    return row


def change(
    session: Session,
    subject: Subject | int,
    rules: Rules,
    row: RowMapping,
    *,
    cause: str,
    ref: str | None,
    deltas: dict[str, int] | None = None,
    provincial: object = _KEEP,
    base_as_of: object = _KEEP,
    risk_level: str | None = None,
    at: datetime | None = None,
    details: dict | None = None,
) -> dict:
    """Apply event deltas, a new base or a new risk level to a locked row; record the change and its effects."""
    sid = _id(subject)
    sums = {d: row[f"sum_{d}"] + (deltas or {}).get(d, 0) for d in DIMENSIONS}
    prov = row["provincial_score"] if provincial is _KEEP else provincial
    new = derive(rules, sums, risk_level or row["risk_level"], prov)
    new["base_as_of"] = row["base_as_of"] if base_as_of is _KEEP else base_as_of
    session.execute(update(T).where(T.c.subject_id == sid).values(**new, updated_at=utcnow()))
    _record(session, sid, row, new, rules, cause, ref, at or utcnow(), details or {})
    return new


def _record(session, subject_id, old, new, rules, cause, ref, at, details) -> None:
    if old is not None and all(old[k] == new[k] for k in VISIBLE):
        return
    session.execute(
        ScoreChange.__table__.insert().values(
            subject_id=subject_id,
            at=at,
            cause=cause,
            ref=ref,
            rule_version=rules.version,
            total_before=None if old is None else old["total"],
            total_after=new["total"],
            grade_before=None if old is None else old["grade"],
            grade_after=new["grade"],
            base_pending=new["base_pending"],
            details=details,
        )
    )
    before = None if old is None else effects.effective_grade(old["grade"], old["base_pending"])
    after = effects.effective_grade(new["grade"], new["base_pending"])
    if before != after:
        effects.on_grade_changes(session, rules, [(subject_id, before, after)])


def refresh_one(session: Session, subject: Subject, rules: Rules, *, cause: str, ref: str | None, **kw) -> dict:
    """Recompute one subject from scratch (ledger + latest base) under its row lock, and record the change."""
    row = lock(session, subject, rules)
    provincial, as_of = latest_base(session, subject.id)
    sums = ledger_sums(session, subject.id)
    deltas = {d: sums[d] - row[f"sum_{d}"] for d in DIMENSIONS}
    return change(
        session, subject, rules, row, cause=cause, ref=ref, deltas=deltas, provincial=provincial, base_as_of=as_of, **kw
    )


def read(session: Session, subject_id: int) -> SubjectScore | None:
    """The stored score row, fresh from the database (not a stale copy from the session)."""
    return session.scalar(
        select(SubjectScore).where(SubjectScore.subject_id == subject_id).execution_options(populate_existing=True)
    )
