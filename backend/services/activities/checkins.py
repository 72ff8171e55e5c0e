"""Check-ins (报到打卡): create with a selfie and GPS; placed in a period by a job once the photo has its verdict.

The request records the check-in, its place (inside the permitted area or not) and attaches the photo with
its claim; the placement — period, on time / late / extra, CHECKIN_ONTIME or CHECKIN_LATE, the score, the
GEOFENCE warning — follows after commit in the ``place_checkin`` outbox job (docs/schedules.md#outbox-jobs),
queued when the photo's verdict is known. State machine ``checkin``: pending → counted (on time, late or extra) |
invalid (the photo was rejected). Guarantees: one check-in per (subject, client id), so a phone's retry
never counts twice; a placement runs once, under a lock on the subject row (taken first, in the lock
order of docs/schedules.md#lock-order), so two check-ins never take the same period; a period that
already has CHECKIN_MISSED is never also late (docs/checkins.md#placement).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Select, and_, bindparam, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models import Subject, Upload
from backend.models.checkin import CheckIn
from backend.models.scoring import ScoreEvent
from backend.services.activities import geofence, grade_effects, periods, policy
from backend.services.core import audit, outbox, rowlocks
from backend.services.core.actors import Actor
from backend.services.core.handlers import handler
from backend.services.core.statemachine import StateMachine
from backend.services.evidence import attachments
from backend.services.identity import access
from backend.services.scoring import emit_event
from media.claims import CHECKIN_TIME_TOLERANCE, Claim, captured_at

register("CAPTURED_AT_INVALID", 422, "拍摄时间不能晚于当前时间", "The capture time is in the future")
register(
    "CAPTURED_AT_TOO_OLD", 422, "拍摄时间过早,请重新拍照打卡", "The capture time is too long ago; take a new photo"
)

CHECKIN_STATES = StateMachine(
    "checkin", {"pending": {"counted", "invalid"}, "counted": set(), "invalid": set()}, "pending"
)
access.allow("checkin.self", {"subject"})
#: a phone clock slightly ahead of ours is not an error
CLOCK_SKEW = timedelta(minutes=10)
#: an item queued offline longer than this is refused: the phone must take a new photo
MAX_AGE = timedelta(days=7)
MISSED_SOURCE = "checkin_period"


def own_subject(session: Session, actor: Actor) -> Subject:
    """The caller's own subject record (404 if the caller is not one); a released subject is 409."""
    subject = session.scalar(select(Subject).where(Subject.id == actor.subject_id)) if actor.subject_id else None
    if subject is None:
        raise NotFound("subject")
    if subject.status != "in_correction":
        raise DomainError("SUBJECT_RELEASED")
    return subject


#: the check-in create's one read (prebuilt: it runs on every check-in)
_SUBJECT_AND_RETRY = geofence.with_district(
    select(
        Subject.id,
        Subject.status,
        CheckIn.id,
        exists().where(Upload.id == bindparam("upload_id"), Upload.owner_id == bindparam("owner_id")),
    )
    .outerjoin(CheckIn, and_(CheckIn.subject_id == Subject.id, CheckIn.client_id == bindparam("client_id")))
    .where(Subject.id == bindparam("subject_id")),
    Subject.office_id,
)
_INSERT = insert(CheckIn.__table__).returning(CheckIn.__table__.c.id)


def _own_subject_and_retry(
    session: Session, actor: Actor, client_id: str, upload_id: int
) -> tuple[int, int | None, tuple | None]:
    """The caller's subject id (404 if none), the id of its check-in with ``client_id`` (a retry) and its
    district (id, area), in one statement of plain columns. Unless it is a retry, a released subject is 409,
    and an upload ``upload_id`` the caller does not have is UPLOAD_UNKNOWN (before the insert refers to it).
    """
    params = {"subject_id": actor.subject_id or -1, "client_id": client_id}
    params |= {"upload_id": upload_id, "owner_id": actor.user_id}
    row = session.connection().execute(_SUBJECT_AND_RETRY, params).first()
    if row is None:
        raise NotFound("subject")
    if row[2] is None:
        if row[1] != "in_correction":
            raise DomainError("SUBJECT_RELEASED")
        if not row[3]:
            raise DomainError("UPLOAD_UNKNOWN", {"upload_id": [str(upload_id)]})
    return row[0], row[2], (row[4], row[5]) if row[4] is not None else None


#: what a check-in's create answers of the fields that its placement fills in later
_AS_CREATED = {
    "status": "pending",
    "outcome": None,
    "counted_at": None,
    "time_basis": None,
    "interval_days": None,
    "period_start": None,
    "period_end": None,
    "period_due_at": None,
}
#: what makes a retry the same check-in: the same client id with other content is IDEMPOTENCY_KEY_REUSED
_CONTENT = ("upload_id", "latitude", "longitude", "accuracy_m", "captured_at")


def as_created(c: CheckIn) -> dict:
    """The check-in as its create answered it; a retry of the create is answered this again, byte for byte."""
    return _answer(lambda key: getattr(c, key))


def _as_written(row: dict) -> dict:
    """``as_created`` of the check-in that ``_create`` has just inserted with ``row``'s columns (no ORM object)."""
    return _answer(row.get)


def _answer(value_of) -> dict:
    return {col.key: value_of(col.key) for col in CheckIn.__table__.columns} | _AS_CREATED


def submit(actor: Actor, data: dict, *, offline: bool = False) -> tuple[dict, bool]:
    """Check in once per client id: (the check-in as created, whether this was a retry).

    The check-in is its own idempotency record (unique subject and client id), whether it came through
    /me/checkins or /me/sync: a retry finds it and is answered what its create answered; the same client id
    with another photo, place or capture time is IDEMPOTENCY_KEY_REUSED. A concurrent duplicate waits on
    the unique key for the first to commit, then replays it.
    """
    try:
        view, created = _create(actor, data, offline=offline)
    except IntegrityError:
        with db.tx() as s:
            subject_id = actor.subject_id or -1
            c = s.scalar(
                select(CheckIn).where(CheckIn.subject_id == subject_id, CheckIn.client_id == data["client_id"])
            )
        if c is None:
            raise
        view, created = as_created(c), False
    if not created and any(view[k] != data[k] for k in _CONTENT):
        raise DomainError("IDEMPOTENCY_KEY_REUSED")
    return view, not created


def create(
    actor: Actor, data: dict, *, offline: bool = False, kind: str = "checkin", request_id: int | None = None
) -> CheckIn:
    """Record a check-in, check its place, attach its photo (with the claim); place it when the photo is checked.

    A retry (the same client id) returns the check-in it made.
    """
    view, _created = _create(actor, data, offline=offline, kind=kind, request_id=request_id)
    return db.session.get(CheckIn, view["id"])


def _create(
    actor: Actor, data: dict, *, offline: bool = False, kind: str = "checkin", request_id: int | None = None
) -> tuple[dict, bool]:
    """``create``: the check-in as created (``as_created``), and whether it created (False: a retry). The hot
    path of the subjects' app, so it writes with prebuilt Core statements, the same on every database: one
    read (subject, retry, district), the check-in's insert, the photo's conditional update, the outbox row,
    and the audit rows at commit; it builds no ORM object."""
    access.require(actor, "checkin.self")
    now = periods.now()
    claimed = data["captured_at"]
    with db.tx() as s:
        subject_id, retry_id, district = _own_subject_and_retry(s, actor, data["client_id"], data["upload_id"])
        if retry_id is not None:
            return as_created(s.get(CheckIn, retry_id)), False
        if claimed > now + CLOCK_SKEW:
            raise DomainError("CAPTURED_AT_INVALID", {"captured_at": ["in the future"]})
        if claimed < now - MAX_AGE:
            raise DomainError("CAPTURED_AT_TOO_OLD", {"captured_at": [f"more than {MAX_AGE.days} days ago"]})
        was_offline = bool(offline or data.get("offline"))
        lat, lon, acc = data["latitude"], data["longitude"], data["accuracy_m"]
        geo = geofence.check(
            s, subject_id, lat, lon, acc, claimed if was_offline else now, home_only=kind == "return", district=district
        )
        values = {
            "subject_id": subject_id,
            "client_id": data["client_id"],
            "kind": kind,
            "request_id": request_id,
            "upload_id": data["upload_id"],
            "latitude": lat,
            "longitude": lon,
            "accuracy_m": acc,
            "captured_at": claimed,
            "received_at": now,
            "offline": was_offline,
            "status": "pending",
            "inside_area": geo.inside,
            "distance_m": geo.distance_m,
            "area_basis": geo.basis,
        }
        claim = Claim(claimed, lat, lon, time_tolerance=CHECKIN_TIME_TOLERANCE)
        checkin_id = s.connection().execute(_INSERT, values).scalar_one()
        # the attachment checks (claim, duplicates, face check) need no request data: they run in a job
        attachments.attach(
            s, actor, data["upload_id"], subject_id=subject_id, record_type="checkin", record_id=checkin_id,
            claim=claim, defer=True,
        )  # fmt: skip
        audit.record(
            s,
            "checkin.create",
            actor=actor,
            target_type="checkin",
            target_id=checkin_id,
            details={"kind": kind, "offline": was_offline, "inside_area": geo.inside, "status": "pending"},
        )
    return _as_written(values | {"id": checkin_id}), True


def interval_for(session: Session, subject: Subject) -> tuple[int, grade_effects.GradeEffects]:
    """The subject's check-in interval now (level and grade effect) and the grade effects behind it."""
    effects = grade_effects.effects_of(session, subject.id)
    ladder = policy.policy(session).ladder
    days = periods.interval_days(
        subject.supervision_level, looser=effects.looser, tighter=effects.tighter, ladder=ladder
    )
    return days, effects


def period_checked(session: Session, subject_id: int, period: periods.Period) -> bool:
    """A counted check-in took the period, or it was already found missed."""
    took = exists().where(
        CheckIn.subject_id == subject_id, CheckIn.period_due_at == period.due_at, CheckIn.status == "counted"
    )
    missed = exists().where(
        ScoreEvent.rule_code == "CHECKIN_MISSED",
        ScoreEvent.source_kind == MISSED_SOURCE,
        ScoreEvent.source_id == missed_source_id(subject_id, period.end),
    )
    return bool(session.scalar(select(took | missed)))


def missed_source_id(subject_id: int, end) -> str:
    return f"{subject_id}:{end.isoformat()}"


def placement(session: Session, subject: Subject, checkin: CheckIn) -> dict:
    """What placing a pending check-in whose photo has its verdict changes on it ({} when nothing: idempotent).

    Emits the period's event (and so the score) on the way but changes nothing on ``checkin`` itself: the
    caller sets the returned columns at once, so the check-in is written by one UPDATE at commit
    (docs/schedules.md#lock-order). The caller holds the subject's and the check-in's row locks.
    """
    if checkin.status != "pending":
        return {}
    upload = session.get(Upload, checkin.upload_id)
    if upload is None or upload.status in ("pending", "processing"):
        return {}
    if upload.status in ("rejected", "expired"):
        CHECKIN_STATES.check(checkin.status, "invalid")
        return {"status": "invalid", "classified_at": periods.now()}
    at, basis = periods.counted_time(
        checkin.received_at, checkin.captured_at, captured_at(upload.facts), checkin.offline
    )
    length, _effects = interval_for(session, subject)
    placed = periods.place(
        at,
        subject.start_date,
        length,
        lambda p: period_checked(session, subject.id, p),
        own_period_first=basis == "captured",
    )
    CHECKIN_STATES.check(checkin.status, "counted")
    changes = {"status": "counted", "counted_at": at, "time_basis": basis, "outcome": placed.outcome}
    changes |= {"interval_days": length, "classified_at": periods.now()}
    if placed.period is None or subject.status != "in_correction":
        return changes  # nothing to count for, or released meanwhile (the score is frozen): placed, without an event
    p = placed.period
    changes |= {"period_start": p.start, "period_end": p.end, "period_due_at": p.due_at}
    rule = "CHECKIN_ONTIME" if placed.outcome == "on_time" else "CHECKIN_LATE"
    reason = f"报到周期 {p.start.isoformat()}–{p.end.isoformat()}"
    changes["event_id"] = emit_event(subject, rule, "checkin", checkin.id, at, reason=reason).event.id
    return changes


@attachments.on_verdict
def _on_verdict(session: Session, upload: Upload) -> None:
    """The photo has its verdict: queue the check-in's placement (once per transaction; the job is idempotent)."""
    if upload.record_type != "checkin" or not (upload.record_id or "").isdigit():
        return
    queued = session.info.setdefault("checkins_queued", set())
    if upload.record_id not in queued:
        queued.add(upload.record_id)
        outbox.add(session, "place_checkin", {"checkin_id": int(upload.record_id)})


@handler("place_checkin")
def place_checkin(session: Session, payload: dict) -> None:
    """Place a check-in in its period (event, score) and open its geofence warning; a rerun does nothing new.

    Lock order (docs/schedules.md#lock-order): the subject's row — which also serialises the placements of
    one subject's check-ins, so no period is taken twice — then the check-in's. Everything the placement
    and the warning change on the check-in is set at the end, one UPDATE at commit: a second UPDATE of a
    row this transaction already changed would make PostgreSQL check its foreign keys again (a share lock
    on the photo's row that the face check holds).
    """
    subject = rowlocks.lock_subject_of(session, CheckIn, payload["checkin_id"])
    checkin = rowlocks.lock(session, CheckIn, payload["checkin_id"]) if subject is not None else None
    if checkin is None:
        return
    changes = placement(session, subject, checkin)
    if checkin.inside_area is False and checkin.kind == "checkin" and checkin.warning_id is None:
        changes["warning_id"] = geofence.warn_outside(session, subject, checkin).id
    for column, value in changes.items():
        setattr(checkin, column, value)


def invalidate_rejected(session: Session) -> int:
    """Set-based: pending check-ins whose photo was rejected (no verdict hook runs for those) → invalid."""
    rejected = select(Upload.id).where(Upload.status.in_(("rejected", "expired")))
    result = session.execute(
        update(CheckIn)
        .where(CheckIn.status == "pending", CheckIn.upload_id.in_(rejected))
        .values(status="invalid", classified_at=periods.now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def get_own(actor: Actor, checkin_id: int) -> CheckIn:
    access.require(actor, "checkin.self")
    c = db.session.get(CheckIn, checkin_id)
    if c is None or c.subject_id != actor.subject_id:
        raise NotFound("checkin")
    return c


def list_query(actor: Actor, args: dict) -> Select:
    """The caller's check-ins, newest first, filtered by status and Shanghai date range."""
    access.require(actor, "checkin.self")
    stmt = select(CheckIn).where(CheckIn.subject_id == (actor.subject_id or -1))
    if args.get("status"):
        stmt = stmt.where(CheckIn.status == args["status"])
    if args.get("date_from"):
        stmt = stmt.where(CheckIn.received_at >= periods.local_midnight(args["date_from"]))
    if args.get("date_to"):
        stmt = stmt.where(CheckIn.received_at < periods.local_midnight(args["date_to"] + timedelta(days=1)))
    return stmt.order_by(CheckIn.id.desc())


def staff_list_query(actor: Actor, subject_id: int, args: dict) -> Select:
    """A subject of the caller's jurisdiction: its check-ins, newest first (404 outside it; ``subject.read``)."""
    access.require(actor, "subject.read")
    subject = access.get_subject(db.session, actor, subject_id)
    stmt = select(CheckIn).where(CheckIn.subject_id == subject.id)
    if args.get("status"):
        stmt = stmt.where(CheckIn.status == args["status"])
    if args.get("date_from"):
        stmt = stmt.where(CheckIn.received_at >= periods.local_midnight(args["date_from"]))
    if args.get("date_to"):
        stmt = stmt.where(CheckIn.received_at < periods.local_midnight(args["date_to"] + timedelta(days=1)))
    return stmt.order_by(CheckIn.received_at.desc(), CheckIn.id.desc())


def _period_view(session: Session, subject_id: int, p: periods.Period | None) -> dict | None:
    if p is None:
        return None
    took = session.scalar(
        select(CheckIn.id).where(
            CheckIn.subject_id == subject_id, CheckIn.period_due_at == p.due_at, CheckIn.status == "counted"
        )
    )
    return {
        "index": p.index,
        "start_date": p.start,
        "end_date": p.end,
        "due_at": p.due_at,
        "late_until": p.late_until,
        "checked": took is not None or period_checked(session, subject_id, p),
        "checkin_id": took,
    }


def _next_due(s: Session, subject_id: int, late: dict | None, cur: dict | None, upcoming: periods.Period | None):
    """The next deadline the subject must meet: a late period's last chance, else the first unchecked period."""
    if late is not None:
        return late["late_until"]
    if cur is None or upcoming is None:
        return None
    return upcoming.next().due_at if cur["checked"] else cur["due_at"]


def schedule(actor: Actor) -> dict:
    """The caller's current period, its due time, the interval and why, and a period still open for a late check-in."""
    access.require(actor, "checkin.self")
    s = db.session
    subject = own_subject(s, actor)
    now = periods.now()
    length, effects = interval_for(s, subject)
    current = periods.period_at(periods.local_date(now), subject.start_date, length)
    if current is not None and now > current.due_at:
        recent, upcoming = current, current.next()
    else:
        recent, upcoming = (current.previous() if current else None), current
    late = _period_view(s, subject.id, recent) if recent is not None and now <= recent.late_until else None
    if late is not None and late["checked"]:
        late = None
    cur = _period_view(s, subject.id, upcoming)
    return {
        "now": now,
        "supervision_level": subject.supervision_level,
        "interval_days": length,
        "base_interval_days": periods.interval_days(subject.supervision_level, ladder=policy.policy(s).ladder),
        "grade": effects.grade,
        "grade_effect": "looser" if effects.looser else ("tighter" if effects.tighter else None),
        "current_period": cur,
        "late_period": late,
        "next_due_at": _next_due(s, subject.id, late, cur, upcoming),
        "pending_checkins": s.scalar(
            select(CheckIn.id).where(CheckIn.subject_id == subject.id, CheckIn.status == "pending").limit(1)
        )
        is not None,
    }
