"""The credit correction score (信用矫正分, docs/score.md): rule sets, the ledger, scores, history and decisions.

Other features use ``emit_event`` (the ledger's one entry point), ``effective_grade_of`` (the grade that
has effects, None while the public base is pending) and ``GRADE_LISTENERS`` (grade change publication).
"""

from backend.services.scoring import evidence, recompute  # noqa: F401 - the outbox handler, the fraud hook
from backend.services.scoring.effects import GRADE_LISTENERS, effective_grade
from backend.services.scoring.hooks import effective_grade_of, on_risk_change
from backend.services.scoring.ledger import Emitted, emit_event, revoke_event

__all__ = [
    "GRADE_LISTENERS",
    "Emitted",
    "effective_grade",
    "effective_grade_of",
    "emit_event",
    "on_risk_change",
    "revoke_event",
]
