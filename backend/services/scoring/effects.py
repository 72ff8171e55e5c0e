"""Grade change effects: published to other features through the outbox; a fall to red raises SCORE_RED.

The grade that has effects is the *effective* grade: none while the public base is pending
(docs/score.md#effective-grade), so a provisional score never restricts nor grants anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Subject
from backend.services.core import outbox
from backend.services.core.handlers import handler
from backend.services.core.warnings import raise_warning
from backend.services.scoring.rules import Rules

log = logging.getLogger(__name__)
#: listeners(session, subject_id, grade_before, grade_after) run by the outbox job after a grade change;
#: other features (check-in interval, leave green channel) register here
GRADE_LISTENERS: list[Callable[[Session, int, str | None, str | None], None]] = []
_BATCH = 500


def effective_grade(grade: str | None, base_pending: bool | None) -> str | None:
    return None if grade is None or base_pending else grade


def on_grade_changes(session: Session, rules: Rules, changes: Iterable[tuple[int, str | None, str | None]]) -> int:
    """Publish effective-grade changes [(subject_id, before, after)] and raise SCORE_RED for falls to red."""
    changes = [(sid, a, b) for sid, a, b in changes if a != b]
    for i in range(0, len(changes), _BATCH):
        outbox.add(session, "score_grade_changed", {"changes": [list(c) for c in changes[i : i + _BATCH]]})
    red = {b.code for b in rules.bands if b.colour == "red"}
    fallen = [sid for sid, _before, after in changes if after in red]
    for i in range(0, len(fallen), _BATCH):
        subjects = session.scalars(select(Subject).where(Subject.id.in_(fallen[i : i + _BATCH]))).all()
        for subject in subjects:
            raise_warning(
                session,
                subject,
                "SCORE_RED",
                "high",
                "信用矫正分降至失信严重(红码),请重点关注",
                details={"rule_version": rules.version},
            )
    return len(changes)


@handler("score_grade_changed")
def deliver_grade_changes(session: Session, payload: dict) -> None:
    """Run every registered listener for each change; a listener must itself be idempotent."""
    for subject_id, before, after in payload["changes"]:
        for listener in GRADE_LISTENERS:
            listener(session, subject_id, before, after)
