"""The education trigger's evaluator: this month's counted minutes against the requirement.

Rules: docs/warnings-and-suggestions.md#default-triggers.

Minutes are counted by the education feature's own rules (``activities.education``: overlaps once, 4 h a
day, verified offline sessions only), so the number is the one the subject sees; one query for a chunk
of subjects and one for their sessions, plain rows rather than ORM objects.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from backend.models import Subject
from backend.models.education import EducationSession
from backend.services.activities import education
from backend.services.suggestions.signals import TZ, Candidate, Eval, Found

_CHUNK = 1000


def education_progress(ctx: Eval, p: dict) -> Found:
    """From day ``from_day`` of the month (Shanghai): counted minutes so far under ``max_ratio`` of the requirement.

    Minutes are counted by the education feature's own rules (overlaps once, 4 h a day, verified offline
    sessions only), one query per chunk of subjects, so the number is the one the subject sees.
    """
    today = ctx.now.astimezone(TZ).date()
    if today.day < p["from_day"]:
        return {}
    month = today.strftime("%Y-%m")
    first = today.replace(day=1)
    found: Found = {}
    after = 0
    who = (
        Subject.id,
        Subject.start_date,
        Subject.end_date,
        Subject.supervision_level,
        Subject.officer_id,
        Subject.office_id,
    )
    what = (EducationSession.subject_id, EducationSession.mode, EducationSession.status, EducationSession.intervals)
    while True:  # plain rows, not ORM objects: the education rules read only these attributes
        chunk = ctx.session.execute(
            select(*who)
            .where(ctx.eligible(), Subject.start_date <= today, Subject.end_date >= first, Subject.id > after)
            .order_by(Subject.id)
            .limit(_CHUNK)
        ).all()
        if not chunk:
            return found
        sessions = defaultdict(list)
        stmt = education.sessions_query([x.id for x in chunk], first, today).with_only_columns(*what)
        for e in ctx.session.execute(stmt):
            sessions[e.subject_id].append(e)
        for subject in chunk:
            required = education.required_minutes(subject, month)
            done = education.counted(sessions.get(subject.id, []), first, today)[0] // 60
            if required > 0 and done < required * p["max_ratio"]:
                facts = {"month": month, "done_minutes": done, "required_minutes": required, "as_of": today.isoformat()}
                evidence = [{"kind": "education_month", "id": f"{subject.id}:{month}", **facts}]
                found[subject.id] = Candidate(subject.officer_id, subject.office_id, evidence, facts)
        after = chunk[-1].id
