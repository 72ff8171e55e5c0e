"""What other features call besides the ledger: the risk reassessment hook and the grade that has effects."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.models import Subject
from backend.services.scoring import effects, score
from backend.services.scoring.rules import current
from backend.services.subjects.hooks import RISK_HOOKS


def on_risk_change(session: Session, subject: Subject, old: str | None, new: str, ref: str | None = None) -> None:
    """Re-derive the risk dimension after a risk assessment (in the caller's transaction), dated in the history."""
    rules = score.begin(session)
    row = score.lock(session, subject, rules)
    if row["frozen"]:
        return
    score.change(
        session, subject, rules, row, cause="risk_assessment", ref=ref, risk_level=new, details={"from": old, "to": new}
    )


RISK_HOOKS.append(on_risk_change)


def effective_grade_of(session: Session, subject_id: int) -> str | None:
    """The grade whose restrictions and benefits apply now: None while the public base is pending or unknown."""
    row = score.read(session, subject_id)
    if row is not None:
        return effects.effective_grade(row.grade, row.base_pending)
    subject = session.get(Subject, subject_id)
    if subject is None:
        return None
    values = score.expected(session, subject, current(session))  # no row yet: what it will be
    return effects.effective_grade(values["grade"], values["base_pending"])
