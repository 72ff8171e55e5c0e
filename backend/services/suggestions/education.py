"""The education trigger's evaluator: this month's counted minutes against the requirement.

Rules: docs/warnings-and-suggestions.md#default-triggers.

The rule is the monthly job's (``activities.education``, ``activities.monthly``): minutes counted under
the published policy's daily cap (overlaps once, verified offline sessions only), the requirement from
the policy's hours, prorated by day over the level in force on each day (``subjects.levels``). So the
number is the one the subject sees and the one the job will judge.

Two ways of counting, one answer (tests/suggestions/test_golden.py and test_education_sql.py compare):

- PostgreSQL: one statement counts every eligible subject's minutes (the intervals unnested, merged per
  subject with window functions, cut at Shanghai midnights, capped per day) and returns the subjects that
  may be short, with the distinct levels of their level history; the requirement is worked out per row,
  from the level when it never changed, day by day from the history when it did.
- elsewhere (SQLite): the education feature's own functions (``counted``), one query per chunk of
  subjects and one for their sessions.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Integer

from backend.db import is_pg
from backend.models import Subject
from backend.models.education import EducationSession
from backend.services.activities import education, periods, policy
from backend.services.subjects import levels
from backend.services.suggestions.signals import TZ, Candidate, Eval, Found

_CHUNK = 1000


def education_progress(ctx: Eval, p: dict) -> Found:
    """From day ``from_day`` of the month (Shanghai): counted minutes so far under ``max_ratio`` of the requirement."""
    today = ctx.now.astimezone(TZ).date()
    if today.day < p["from_day"]:
        return {}
    rules = policy.policy(ctx.session)
    if is_pg(ctx.session):
        return _on_postgres(ctx, p, today, rules)
    return _portable(ctx, p, today, rules)


def _candidate(row, month: str, today: date, done: int, required: int) -> Candidate:
    facts = {"month": month, "done_minutes": done, "required_minutes": required, "as_of": today.isoformat()}
    evidence = [{"kind": "education_month", "id": f"{row.id}:{month}", **facts}]
    return Candidate(row.officer_id, row.office_id, evidence, facts)


def _portable(ctx: Eval, p: dict, today: date, rules: policy.Policy) -> Found:
    """The education feature's own functions over chunks of subjects (plain rows, not ORM objects)."""
    month, first = today.strftime("%Y-%m"), today.replace(day=1)
    cap = rules.education_daily_cap_hours * 3600
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
    while True:
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
        history = levels.histories(ctx.session, chunk)
        for subject in chunk:
            required = education.required_minutes(subject, month, rules.education_hours, history[subject.id].on)
            done = education.counted(sessions.get(subject.id, []), first, today, cap)[0] // 60
            if required > 0 and done < required * p["max_ratio"]:
                found[subject.id] = _candidate(subject, month, today, done, required)
        after = chunk[-1].id


#: every eligible subject's counted seconds in [first, today] (Shanghai) and, when its level never changed
#: (one distinct level in its history, or none: the current level), the month's requirement
#: (``education.required_minutes``: never exactly half a minute, so SQL's rounding agrees with Python's);
#: only the subjects short of ``ratio`` of it, and those whose level changed (judged in Python, by day).
#: ``subj`` is ``Eval.eligible`` written out (in correction, nothing live or cooling down of the kind).
_COUNTED = text(
    """
WITH subj AS (
    SELECT s.id, s.start_date, s.end_date, s.supervision_level, s.officer_id, s.office_id
    FROM subjects s
    WHERE s.status = 'in_correction' AND s.start_date <= :today AND s.end_date >= :first
      AND s.id NOT IN (
          SELECT g.subject_id FROM suggestions g
          WHERE g.kind = :code AND (g.status IN ('open', 'accepted') OR g.closed_at >= :quiet_since))
      AND (CAST(:everyone AS boolean) OR s.id = ANY(:ids))
),
spans AS (
    SELECT e.subject_id, CAST(x.value ->> 0 AS timestamptz) AS a, CAST(x.value ->> 1 AS timestamptz) AS b
    FROM education_sessions e
    JOIN subj ON subj.id = e.subject_id
    CROSS JOIN LATERAL json_array_elements(e.intervals) AS x(value)
    WHERE e.started_at < :hi AND coalesce(e.last_heartbeat_at, e.ended_at, e.started_at) >= :lo
      AND (e.mode = 'online' OR e.status = 'verified')
),
ordered AS (
    SELECT subject_id, a, b,
           max(b) OVER (PARTITION BY subject_id ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
               AS reach
    FROM spans WHERE b > a
),
numbered AS (
    SELECT subject_id, a, b,
           count(*) FILTER (WHERE reach IS NULL OR a > reach)
               OVER (PARTITION BY subject_id ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS island
    FROM ordered
),
islands AS (
    SELECT subject_id, min(a) AS a, max(b) AS b FROM numbered GROUP BY subject_id, island
),
days AS (
    SELECT i.subject_id, d.day,
           sum(extract(epoch FROM least(i.b, (d.day + interval '1 day') AT TIME ZONE 'Asia/Shanghai')
                                - greatest(i.a, d.day AT TIME ZONE 'Asia/Shanghai'))) AS seconds
    FROM islands i
    CROSS JOIN LATERAL generate_series(
        greatest(date_trunc('day', i.a AT TIME ZONE 'Asia/Shanghai'), CAST(:first AS timestamp)),
        least(date_trunc('day', i.b AT TIME ZONE 'Asia/Shanghai'), CAST(:today AS timestamp)),
        interval '1 day') AS d(day)
    GROUP BY i.subject_id, d.day
),
counted AS (
    SELECT subject_id, sum(least(floor(seconds), :cap)) AS seconds FROM days WHERE seconds > 0 GROUP BY subject_id
),
judged AS (
    SELECT subj.id, subj.start_date, subj.end_date, subj.supervision_level, subj.officer_id, subj.office_id,
           CAST(coalesce(c.seconds, 0) AS bigint) AS seconds, lv.levels,
           CASE WHEN cardinality(lv.levels) > 1 THEN NULL ELSE CAST(round(
               coalesce(CAST(CAST(:hours AS jsonb) ->> coalesce(lv.levels[1], subj.supervision_level) AS integer), 8)
               * (least(CAST(:last AS date), subj.end_date) - greatest(CAST(:first AS date), subj.start_date) + 1)
               * 60.0 / :month_days) AS integer) END AS required
    FROM subj
    LEFT JOIN counted c ON c.subject_id = subj.id
    LEFT JOIN LATERAL (
        SELECT array_agg(DISTINCT h.level) AS levels FROM supervision_level_history h WHERE h.subject_id = subj.id
    ) lv ON true
)
SELECT * FROM judged
WHERE required IS NULL OR (required > 0 AND seconds / 60 < required * CAST(:ratio AS double precision))
ORDER BY id
"""
).bindparams(bindparam("ids", type_=ARRAY(Integer)))


def _on_postgres(ctx: Eval, p: dict, today: date, rules: policy.Policy) -> Found:
    month, first = today.strftime("%Y-%m"), today.replace(day=1)
    _first, last = periods.month_bounds(month)
    hours = rules.education_hours
    params = {
        "today": today,
        "first": first,
        "last": last,
        "month_days": (last - first).days + 1,
        "lo": periods.local_midnight(first),
        "hi": periods.local_midnight(today + timedelta(days=1)),
        "code": ctx.code,
        "quiet_since": ctx.now - timedelta(days=ctx.cooldown_days),
        "everyone": ctx.subject_ids is None,
        "ids": list(ctx.subject_ids or ()),
        "cap": rules.education_daily_cap_hours * 3600,
        "hours": json.dumps(hours),
        "ratio": float(p["max_ratio"]),
    }
    rows = ctx.session.execute(_COUNTED, params).all()
    changed = [r for r in rows if r.required is None]
    history = levels.histories(ctx.session, changed) if changed else {}
    found: Found = {}
    for r in rows:
        required = r.required
        if required is None:  # the level changed: day by day, as the monthly job counts
            required = education.required_minutes(r, month, hours, history[r.id].on)
        done = r.seconds // 60
        if required > 0 and done < required * p["max_ratio"]:
            found[r.id] = _candidate(r, month, today, done, required)
    return found
