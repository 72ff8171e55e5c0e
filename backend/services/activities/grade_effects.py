"""What a subject's grade changes in daily life: the check-in interval and the leave channels (docs/score.md#benefits).

Only the *effective* grade counts (the scoring package's ``effective_grade_of``: none while the public
base is pending). Benefits are rule-set data: ``flexible_supervision`` loosens the check-in interval one
step, ``leave_green_channel`` approves a short business leave at once, ``leave_fast_track`` makes a short
leave due in one day; a grade marked ``focus`` (重点关注, red by default) tightens the interval one step.
A change of grade that moves the interval is told to the subject (a listener of the scoring package's
grade-change publication).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.models import Subject
from backend.services.activities import periods, policy
from backend.services.core.notifications import notify
from backend.services.scoring import GRADE_LISTENERS, effective_grade_of
from backend.services.scoring.rules import Rules, current

LOOSER = "flexible_supervision"
GREEN_CHANNEL = "leave_green_channel"
FAST_TRACK = "leave_fast_track"


@dataclass(frozen=True)
class GradeEffects:
    grade: str | None
    colour: str | None
    benefits: frozenset[str]
    focus: bool

    @property
    def looser(self) -> bool:
        return LOOSER in self.benefits

    @property
    def tighter(self) -> bool:
        return self.focus and not self.looser


NONE = GradeEffects(None, None, frozenset(), False)


def _focus(rules: Rules, code: str) -> bool:
    for g in rules.data.get("grades", []):
        if g.get("code") == code:
            return bool(g.get("focus")) or g.get("colour") == "red"
    return False


def effects_of(session: Session, subject_id: int) -> GradeEffects:
    """The effects of the subject's effective grade now (none while the base is pending)."""
    return effects_for(session, effective_grade_of(session, subject_id))


def effects_for(session: Session, code: str | None) -> GradeEffects:
    """The effects of an effective grade code under the rule set in force (None: no grade, no effect)."""
    if code is None:
        return NONE
    rules = current(session)
    band = rules.band_by_code(code)
    if band is None:
        return NONE
    return GradeEffects(code, band.colour, frozenset(band.benefits), _focus(rules, code))


def interval_codes(session: Session) -> tuple[list[str], list[str]]:
    """Grade codes that loosen and that tighten the interval (for set-based queries)."""
    rules = current(session)
    looser = [b.code for b in rules.bands if LOOSER in b.benefits]
    tighter = [b.code for b in rules.bands if _focus(rules, b.code) and b.code not in looser]
    return looser, tighter


def _interval_changed(session: Session, subject_id: int, before: str | None, after: str | None) -> None:
    """Tell the subject when a change of grade moves their check-in interval (in the grade-change job)."""
    subject = session.get(Subject, subject_id)
    if subject is None or subject.status != "in_correction":
        return
    ladder = policy.policy(session).ladder
    old, new = (effects_for(session, code) for code in (before, after))
    days = [
        periods.interval_days(subject.supervision_level, looser=e.looser, tighter=e.tighter, ladder=ladder)
        for e in (old, new)
    ]
    if days[0] != days[1]:
        notify(
            session,
            subject.user_id,
            "checkin_interval_changed",
            f"您的报到周期已调整为每 {days[1]} 天一次",
            "信用等级变化后,报到周期随之调整。",
            data={"from_days": days[0], "to_days": days[1], "grade": after},
        )


GRADE_LISTENERS.append(_interval_changed)
