"""The education trigger's evaluator: this month's counted minutes against the requirement.

Rules: docs/warnings-and-suggestions.md#default-triggers.

The rule is the monthly job's (``activities.education``, ``activities.monthly``): minutes counted under
the published policy's daily cap (overlaps once, verified offline sessions only), the requirement from
the policy's hours, prorated by day over the level in force on each day (``subjects.levels``). So the
number is the one the subject sees and the one the job will judge.

Two ways of counting, one answer (tests/suggestions/test_golden.py and test_education_rule.py compare):

- PostgreSQL: one statement (``candidates``) counts every eligible subject's minutes (the intervals
  unnested, merged per subject with window functions, cut at Shanghai midnights, capped per day), works
  out the requirement (from the level when it never changed, day by day from the level history when it
  did) and returns the subjects short of it with their evidence and facts as JSON; the engine writes
  them with one INSERT … SELECT around it.
- elsewhere (SQLite): the education feature's own functions (``counted``), one query per chunk of
  subjects and one for their sessions.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import bindparam, column, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.selectable import TextualSelect
from sqlalchemy.types import JSON, Integer

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


#: the subjects short of ``ratio`` of this month's requirement, each with its evidence and facts as JSON
#: (``_candidate``'s, built here so that the engine writes them without a row leaving the server).
#: ``subj`` is ``Eval.eligible`` written out (in correction, nothing live or cooling down of the kind).
#: Counted: every eligible subject's seconds in [first, today] (Shanghai), the sessions' intervals merged,
#: cut at midnights and capped per day. Required (``education.required_minutes``): the level's hours
#: prorated by day; when the history holds more than one level, the level in force each day as
#: ``levels.LevelHistory.on`` picks it (a span holding the day, the latest recorded; else the latest
#: started; else the first). Never exactly half a minute, so SQL's rounding agrees with Python's; and
#: ``to_char`` of a double formats like Python's ``:.1f`` (both round the binary value correctly).
_SHORT = text(
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
local AS (
    SELECT subject_id, a, b, date_trunc('day', a AT TIME ZONE 'Asia/Shanghai') AS d0,
           date_trunc('day', b AT TIME ZONE 'Asia/Shanghai') AS d1
    FROM islands
),
pieces AS (  -- an island within one day is that day's piece; one across midnights is cut at each
    SELECT subject_id, d0 AS day, extract(epoch FROM b - a) AS seconds
    FROM local WHERE d0 = d1 AND d0 BETWEEN CAST(:first AS timestamp) AND CAST(:today AS timestamp)
    UNION ALL
    SELECT l.subject_id, d.day,
           extract(epoch FROM least(l.b, (d.day + interval '1 day') AT TIME ZONE 'Asia/Shanghai')
                              - greatest(l.a, d.day AT TIME ZONE 'Asia/Shanghai'))
    FROM local l
    CROSS JOIN LATERAL generate_series(
        greatest(l.d0, CAST(:first AS timestamp)), least(l.d1, CAST(:today AS timestamp)), interval '1 day'
    ) AS d(day)
    WHERE l.d0 < l.d1
),
days AS (
    SELECT subject_id, day, sum(seconds) AS seconds FROM pieces GROUP BY subject_id, day
),
counted AS (
    SELECT subject_id, sum(least(floor(seconds), :cap)) AS seconds FROM days WHERE seconds > 0 GROUP BY subject_id
),
lv AS (
    SELECT h.subject_id, min(h.level) AS level, min(h.level) <> max(h.level) AS changed
    FROM supervision_level_history h JOIN subj ON subj.id = h.subject_id
    GROUP BY h.subject_id
),
moved AS MATERIALIZED (
    SELECT subj.id, subj.start_date, subj.end_date FROM subj JOIN lv ON lv.subject_id = subj.id WHERE lv.changed
),
changed AS (
    SELECT moved.id, sum(coalesce(CAST(CAST(:hours AS jsonb) ->> on_day.level AS integer), 8)) AS hour_days
    FROM moved
    CROSS JOIN LATERAL generate_series(
        greatest(CAST(:first AS date), moved.start_date), least(CAST(:last AS date), moved.end_date), interval '1 day'
    ) AS d(day)
    CROSS JOIN LATERAL (SELECT coalesce(
        (SELECT h.level FROM supervision_level_history h
         WHERE h.subject_id = moved.id AND h.valid_from <= d.day AND (h.valid_to IS NULL OR d.day < h.valid_to)
         ORDER BY h.id DESC LIMIT 1),
        (SELECT h.level FROM supervision_level_history h WHERE h.subject_id = moved.id AND h.valid_from <= d.day
         ORDER BY h.valid_from DESC, h.id DESC LIMIT 1),
        (SELECT h.level FROM supervision_level_history h WHERE h.subject_id = moved.id
         ORDER BY h.valid_from, h.id LIMIT 1)) AS level) AS on_day
    GROUP BY moved.id
),
judged AS (
    SELECT subj.id, subj.officer_id, subj.office_id, CAST(coalesce(c.seconds, 0) AS bigint) / 60 AS done,
           CAST(round(coalesce(ch.hour_days,
               coalesce(CAST(CAST(:hours AS jsonb) ->> coalesce(lv.level, subj.supervision_level) AS integer), 8)
               * (least(CAST(:last AS date), subj.end_date) - greatest(CAST(:first AS date), subj.start_date) + 1))
               * 60.0 / :month_days) AS integer) AS required
    FROM subj
    LEFT JOIN counted c ON c.subject_id = subj.id
    LEFT JOIN lv ON lv.subject_id = subj.id
    LEFT JOIN changed ch ON ch.id = subj.id
),
short AS (
    SELECT id, officer_id, office_id,
           json_build_object('month', CAST(:month AS text), 'done_minutes', done, 'required_minutes', required,
                             'as_of', CAST(:as_of AS text)) AS facts,
           json_build_object('kind', 'education_month', 'id', id || ':' || CAST(:month AS text),
                             'month', CAST(:month AS text), 'done_minutes', done, 'required_minutes', required,
                             'as_of', CAST(:as_of AS text))
               AS evidence
    FROM judged
    WHERE required > 0 AND done < required * CAST(:ratio AS double precision)
)
SELECT id AS subject_id, officer_id, office_id, json_build_array(evidence) AS evidence, facts FROM short
"""
).bindparams(bindparam("ids", type_=ARRAY(Integer)))


def candidates(ctx: Eval, p: dict) -> TextualSelect | None:
    """PostgreSQL: the candidates as one statement (subject_id, officer_id, office_id, evidence, facts)."""
    today = ctx.now.astimezone(TZ).date()
    if today.day < p["from_day"]:
        return None
    rules = policy.policy(ctx.session)
    month, first = today.strftime("%Y-%m"), today.replace(day=1)
    _first, last = periods.month_bounds(month)
    return _SHORT.bindparams(
        today=today,
        first=first,
        last=last,
        month=month,
        as_of=today.isoformat(),
        month_days=(last - first).days + 1,
        lo=periods.local_midnight(first),
        hi=periods.local_midnight(today + timedelta(days=1)),
        code=ctx.code,
        quiet_since=ctx.now - timedelta(days=ctx.cooldown_days),
        everyone=ctx.subject_ids is None,
        ids=list(ctx.subject_ids or ()),
        cap=rules.education_daily_cap_hours * 3600,
        hours=json.dumps(rules.education_hours),
        ratio=float(p["max_ratio"]),
    ).columns(
        column("subject_id", Integer),
        column("officer_id", Integer),
        column("office_id", Integer),
        column("evidence", JSON),
        column("facts", JSON),
    )


def _on_postgres(ctx: Eval, p: dict, today: date, rules: policy.Policy) -> Found:
    """The candidates of ``candidates`` read back (what the engine writes without reading)."""
    found: Found = {}
    for r in ctx.session.execute(candidates(ctx, p)):
        found[r.subject_id] = Candidate(r.officer_id, r.office_id, r.evidence, r.facts)
    return found
