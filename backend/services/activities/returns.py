"""Return reports (销假) and the nightly overdue-return job (docs/requests.md#return-report).

A return report is a check-in at home (inside the subject's own district, leave destinations excluded),
due by the end of the leave's last day: on time → LEAVE_RETURN_ONTIME. A leave still without one at the
end date + 24 h becomes ``overdue`` (LEAVE_OVERDUE, a warning, a notification); a later return report still
closes it (``returned``), without the on-time event. Both are idempotent: the return's check-in has its
client id, the events their unique source ("request", id), and the job moves only ``approved`` leaves.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.db import db
from backend.errors import DomainError, register
from backend.models import Subject, Upload
from backend.models.request import SubjectRequest
from backend.services.activities import checkins, periods
from backend.services.activities.requests import REQUEST_STATES, get_own
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.notifications import notify
from backend.services.core.warnings import raise_warning
from backend.services.scoring import emit_event
from media.claims import captured_at

register("RETURN_NOT_A_LEAVE", 422, "只有外出申请需要销假", "Only a leave has a return report")
register("RETURN_NOT_DUE", 422, "该外出尚未开始或未获批准,无需销假", "The leave is not approved or has not started")
register("RETURN_NOT_AT_HOME", 422, "销假须在执行地报到", "The return report must be made at home (in your district)")

BATCH = 200


def leave_ends_at(r: SubjectRequest) -> datetime:
    """The end of the leave's last day (24:00 Asia/Shanghai): the return report is due by then."""
    return periods.local_midnight(r.end_date + timedelta(days=1))


def overdue_at(end: date) -> datetime:
    """When a leave ending on ``end`` without a return report becomes overdue (its end + 24 h)."""
    return periods.local_midnight(end + timedelta(days=1)) + periods.GRACE


def report_return(actor: Actor, request_id: int, data: dict, *, offline: bool = False) -> SubjectRequest:
    """Report back from a leave with a check-in at home; a repeat with the same check-in returns the request."""
    with db.tx() as s:
        r = get_own(s, actor, request_id, lock=True)
        if r.type != "leave":
            raise DomainError("RETURN_NOT_A_LEAVE")
        if r.status == "returned" and r.return_checkin_id is not None:
            done = checkins.get_own(actor, r.return_checkin_id)
            if done.client_id == data["client_id"]:
                return r
        if r.status not in ("approved", "overdue") or periods.local_date(periods.now()) < r.start_date:
            raise DomainError("RETURN_NOT_DUE", context={"status": r.status})
        try:
            c = checkins.create(actor, data, offline=offline, kind="return", request_id=r.id)
        except IntegrityError as exc:  # a check-in with this client id committed meanwhile (sent to /me/checkins too)
            raise DomainError("IDEMPOTENCY_KEY_REUSED", {"client_id": ["used by another check-in"]}) from exc
        if (c.kind, c.request_id) != ("return", r.id):  # the client id is an earlier check-in's, not this return's
            raise DomainError("IDEMPOTENCY_KEY_REUSED", {"client_id": ["used by another check-in"]})
        if c.inside_area is False:
            raise DomainError("RETURN_NOT_AT_HOME", context={"distance_m": round(c.distance_m or 0)})
        upload = s.get(Upload, c.upload_id)
        exif = captured_at(upload.facts) if upload is not None else None
        at, _basis = periods.counted_time(c.received_at, c.captured_at, exif, c.offline)
        was = REQUEST_STATES.apply(r, "returned")
        r.returned_at, r.return_checkin_id = at, c.id
        on_time = was == "approved" and at <= leave_ends_at(r)
        if on_time:
            emit_event(r.subject_id, "LEAVE_RETURN_ONTIME", "request", r.id, at, reason=f"按时销假:{r.destination}")
        audit.record(
            s,
            "request.return",
            actor=actor,
            target_type="request",
            target_id=r.id,
            details={"checkin_id": c.id, "on_time": on_time, "was": was},
        )
        subject = s.get(Subject, r.subject_id)
        if subject.officer_id is not None:
            title = "矫正对象已销假" if on_time else "矫正对象逾期后销假"
            notify(s, subject.officer_id, "request_returned", title, subject.name, {"request_id": r.id})
    return r


def run_overdue(fire_at: datetime) -> dict:
    """Mark every approved leave whose return window closed by ``fire_at`` overdue, with its event and warning."""
    last_end = periods.local_date(fire_at) - timedelta(days=2)
    while overdue_at(last_end) > fire_at:
        last_end -= timedelta(days=1)
    with db.tx() as s:
        ids = list(
            s.scalars(
                select(SubjectRequest.id)
                .join(Subject, Subject.id == SubjectRequest.subject_id)
                .where(
                    Subject.status == "in_correction",  # a released subject's score is frozen
                    SubjectRequest.type == "leave",
                    SubjectRequest.status == "approved",
                    SubjectRequest.end_date <= last_end,
                )
                .order_by(SubjectRequest.id)
            )
        )
    done: list[int] = []
    for i in range(0, len(ids), BATCH):
        with db.tx() as s:
            rows = s.scalars(
                select(SubjectRequest)
                .where(SubjectRequest.id.in_(ids[i : i + BATCH]), SubjectRequest.status == "approved")
                .with_for_update()
            )
            for r in rows:
                _mark_overdue(s, r)
                done.append(r.id)
    with db.tx() as s:
        audit.record_bulk(s, "request.overdue", done, details={"through": last_end.isoformat()})
    return {"overdue": len(done), "through": last_end.isoformat()}


def _mark_overdue(s, r: SubjectRequest) -> None:
    REQUEST_STATES.apply(r, "overdue")
    r.overdue_at = overdue_at(r.end_date)
    subject = s.get(Subject, r.subject_id)
    emitted = emit_event(subject, "LEAVE_OVERDUE", "request", r.id, r.overdue_at, reason=f"逾期未销假:{r.destination}")
    if not emitted.created:
        return
    raise_warning(
        s,
        subject,
        "LEAVE_OVERDUE",
        "high",
        f"{subject.name} 外出逾期未销假",
        period_key=f"request:{r.id}",
        details={"request_id": r.id, "end_date": r.end_date.isoformat(), "destination": r.destination},
        evidence=[{"kind": "request", "id": r.id}],
    )
    notify(
        s,
        subject.user_id,
        "leave_overdue",
        "您的外出已逾期未销假",
        f"外出应于 {r.end_date.isoformat()} 结束,请立即返回并销假。",
        {"request_id": r.id},
    )


def scheduled_overdue(period_start: datetime) -> dict:
    """Schedule entry (nightly, after midnight): leaves whose return window closed by the fire time."""
    return run_overdue(period_start)
