"""At release (解矫) the subject's live suggestions are dismissed with the reason ``released``.

Registered with ``scoring.release.closer`` and run in the release transaction (docs/score.md#release-and-export):
open and accepted suggestions move to ``dismissed`` through the suggestion state machine and are audited
(``suggestion.dismiss`` by the releasing user). The engine evaluates only subjects in correction, so none
comes back.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Subject, utcnow
from backend.models.field import Suggestion
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.scoring.release import REASON, closer
from backend.services.suggestions.engine import LIVE, SUGGESTION_STATES


@closer
def dismiss_live_suggestions(s: Session, subject: Subject, actor: Actor) -> dict[str, list[int]]:
    rows = s.scalars(
        select(Suggestion)
        .where(Suggestion.subject_id == subject.id, Suggestion.status.in_(LIVE))
        .order_by(Suggestion.id)
        .with_for_update()
    ).all()
    now = utcnow()
    for sug in rows:
        SUGGESTION_STATES.apply(sug, "dismissed")
        sug.closed_at, sug.decided_by, sug.dismiss_reason = now, actor.user_id, REASON
        audit.record(
            s,
            "suggestion.dismiss",
            actor=actor,
            target_type="suggestion",
            target_id=sug.id,
            details={"subject_id": subject.id, "kind": sug.kind, "reason": REASON, "outcome": None},
        )
    return {"suggestions": [sug.id for sug in rows]}
