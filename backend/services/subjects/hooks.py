"""Hooks that domains above the subject's record run on its life events, in the same transaction.

The subject's record sits below evidence and scoring in the dependency order (the import contracts in
pyproject.toml), so those domains register here instead of being imported: scoring re-derives the risk
dimension after a risk reassessment, evidence deletes the face data at release.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from backend.models import Subject

ReleaseHook = Callable[[Session, Subject], None]
RiskHook = Callable[[Session, Subject, "str | None", str, "str | None"], None]

#: hook(session, subject) run in the release transaction (face data deletion, pending work cancelled …)
RELEASE_HOOKS: list[ReleaseHook] = []
#: hook(session, subject, old, new, ref) run in the transaction of a recorded risk reassessment
RISK_HOOKS: list[RiskHook] = []
