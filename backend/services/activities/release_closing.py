"""At release (解矫) the subject's requests awaiting a decision are cancelled (docs/score.md#release-and-export).

Registered with ``scoring.release.closer`` and run in the release transaction: every pending or recommended
request moves to ``cancelled`` through the request state machine, leaves the inbox (no decider, no due time)
and is audited (``request.cancel`` by the releasing user, reason ``released``). Approved leaves stay as they
are: the jobs skip released subjects, so none of them turns overdue afterwards.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Subject
from backend.models.request import SubjectRequest
from backend.services.activities import periods
from backend.services.activities.requests import REQUEST_STATES
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.scoring.release import REASON, closer

#: the states of a request that still awaits a decision
AWAITING = ("pending", "recommended")


@closer
def cancel_open_requests(s: Session, subject: Subject, actor: Actor) -> dict[str, list[int]]:
    rows = s.scalars(
        select(SubjectRequest)
        .where(SubjectRequest.subject_id == subject.id, SubjectRequest.status.in_(AWAITING))
        .order_by(SubjectRequest.id)
        .with_for_update()
    ).all()
    now = periods.now()
    for r in rows:
        REQUEST_STATES.apply(r, "cancelled")
        r.cancelled_at, r.decider_role, r.due_at = now, None, None
        audit.record(
            s,
            "request.cancel",
            actor=actor,
            target_type="request",
            target_id=r.id,
            details={"reason": REASON, "subject_id": subject.id},
        )
    return {"requests": [r.id for r in rows]}
