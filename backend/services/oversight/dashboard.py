"""The staff dashboard (驾驶舱): aggregate queries only, over the caller's jurisdiction.

Rules: docs/warnings-and-suggestions.md#dashboard.

Population: subjects in correction in the caller's jurisdiction (optionally one office). Grades are the
effective ones: a subject whose public base is still pending is counted as ``base_pending``, one without
a score row yet as ``unscored``; the score distribution and the trend cover every subject with a score.
The 30-day trend is rebuilt backwards from today's totals and the dated score changes (each change's
delta taken off the days before it), so it needs one GROUP BY, not a row per subject and day.
Check-in compliance counts the periods decided in the same 30 days from the ledger's period events
(CHECKIN_ONTIME, CHECKIN_LATE, CHECKIN_MISSED; one per period, a revoked one not counted) and the
subjects with a miss, per office in one GROUP BY; the totals are the offices' sums.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from backend.db import db
from backend.models import OrgUnit, Subject, Warning, utcnow
from backend.models.field import Suggestion
from backend.models.scoring import ScoreChange, ScoreEvent, SubjectScore
from backend.services.core.actors import Actor
from backend.services.identity import access
from backend.services.oversight import inbox
from backend.services.scoring.rules import current as current_rules
from backend.services.scoring.sql import is_pg

TZ = ZoneInfo("Asia/Shanghai")
TREND_DAYS = 30
BUCKET = 50
#: the ledger's period events, in the order of _compliance's arguments: each decided check-in period has
#: exactly one (docs/checkins.md#placement)
PERIOD_RULES = ("CHECKIN_ONTIME", "CHECKIN_LATE", "CHECKIN_MISSED")
access.allow("dashboard.read", access.STAFF)


def _population(actor: Actor, office_id: int | None):
    clause = and_(access.subject_scope(actor), Subject.status == "in_correction")
    return and_(clause, Subject.office_id == office_id) if office_id is not None else clause


def build(actor: Actor, office_id: int | None = None, now: datetime | None = None) -> dict:
    """Every number of the dashboard for the actor's jurisdiction (see the module docstring)."""
    access.require(actor, "dashboard.read")
    now = now or utcnow()
    s = db.session
    with db.tx():
        rules = current_rules(s)
    pop = _population(actor, office_id)
    checkins = _checkins(s, pop, now)
    return {
        "as_of": now,
        "office_id": office_id,
        "subjects": _subjects(s, rules, pop),
        "score_distribution": _distribution(s, pop),
        "trend": _trend(s, pop, now),
        "work": _work(s, actor, office_id, now),
        "warnings": _warnings(s, pop, now),
        "suggestions": _suggestions(s, pop),
        "checkins": checkins["total"],
        "offices": _offices(s, rules, actor, office_id, now, checkins["by_office"]),
    }


def _subjects(s: Session, rules, pop) -> dict:
    rows = s.execute(
        select(SubjectScore.grade, SubjectScore.base_pending, func.count())
        .select_from(Subject)
        .outerjoin(SubjectScore, SubjectScore.subject_id == Subject.id)
        .where(pop)
        .group_by(SubjectScore.grade, SubjectScore.base_pending)
    ).all()
    counts = {b.code: 0 for b in rules.bands}
    pending = unscored = 0
    for grade, base_pending, n in rows:
        if grade is None:
            unscored += n
        elif base_pending:
            pending += n
        else:
            counts[grade] = counts.get(grade, 0) + n
    level_rows = s.execute(
        select(Subject.supervision_level, func.count()).where(pop).group_by(Subject.supervision_level)
    )
    levels = dict(level_rows.tuples().all())
    by_grade = [
        {
            "grade": b.code,
            "name": b.name,
            "colour": b.colour,
            "min": b.min,
            "max": b.max,
            "count": counts.get(b.code, 0),
        }
        for b in sorted(rules.bands, key=lambda b: -b.min)
    ]
    return {
        "total": sum(n for _, _, n in rows),
        "by_grade": by_grade,
        "by_colour": {g["colour"]: g["count"] for g in by_grade},
        "base_pending": pending,
        "unscored": unscored,
        "by_supervision_level": {k: levels.get(k, 0) for k in ("strict", "normal", "lenient")},
    }


def _distribution(s: Session, pop) -> list[dict]:
    last = 1000 // BUCKET - 1
    bucket = case((SubjectScore.total >= 1000, last), else_=SubjectScore.total // BUCKET).label("bucket")
    inner = (
        select(bucket)
        .select_from(SubjectScore)
        .join(Subject, Subject.id == SubjectScore.subject_id)
        .where(pop)
        .subquery()
    )
    rows = dict(s.execute(select(inner.c.bucket, func.count()).group_by(inner.c.bucket)).tuples().all())
    return [
        {"from": i * BUCKET, "to": i * BUCKET + BUCKET - 1 + (1 if i == last else 0), "count": rows.get(i, 0)}
        for i in range(last + 1)
    ]


def _local_day(s: Session, col):
    if is_pg(s):
        return func.to_char(func.timezone("Asia/Shanghai", col), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", col, "+8 hours")  # Asia/Shanghai has kept UTC+8 without DST since 1991


def _trend(s: Session, pop, now: datetime) -> list[dict]:
    today = now.astimezone(TZ).date()
    first = today - timedelta(days=TREND_DAYS - 1)
    current = s.execute(
        select(func.count(), func.coalesce(func.sum(SubjectScore.total), 0))
        .select_from(SubjectScore)
        .join(Subject, Subject.id == SubjectScore.subject_id)
        .where(pop)
    ).one()
    since = datetime.combine(first + timedelta(days=1), time(0), TZ)  # changes after the first day's end
    inner = (
        select(
            _local_day(s, ScoreChange.at).label("day"),
            (ScoreChange.total_after - func.coalesce(ScoreChange.total_before, 0)).label("delta"),
            case((ScoreChange.total_before.is_(None), 1), else_=0).label("birth"),
        )
        .join(Subject, Subject.id == ScoreChange.subject_id)
        .where(pop, ScoreChange.at >= since, ScoreChange.at <= now)
        .subquery()
    )
    grouped = select(inner.c.day, func.sum(inner.c.delta), func.sum(inner.c.birth)).group_by(inner.c.day)
    changes = {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in s.execute(grouped)}
    count, total = int(current[0]), int(current[1])
    out = []
    for i in range(TREND_DAYS):  # newest first: the end of day d is today's values minus the changes after d
        d = today - timedelta(days=i)
        out.append({"date": d.isoformat(), "subjects": count, "average": round(total / count, 1) if count else None})
        later_delta, later_births = changes.get(d.isoformat(), (0, 0))
        total, count = total - later_delta, count - later_births
    return list(reversed(out))


def _work(s: Session, actor: Actor, office_id: int | None, now: datetime) -> dict:
    rows = [r for r in inbox.counts(s, actor, now) if office_id is None or r["office_id"] == office_id]
    kinds: dict[str, dict] = {}
    for r in rows:
        k = kinds.setdefault(r["kind"], {"kind": r["kind"], "open": 0, "overdue": 0})
        k["open"] += r["open"]
        k["overdue"] += r["overdue"]
    by_kind = sorted(kinds.values(), key=lambda k: k["kind"])
    return {"open": sum(k["open"] for k in by_kind), "overdue": sum(k["overdue"] for k in by_kind), "by_kind": by_kind}


def _warnings(s: Session, pop, now: datetime) -> dict:
    since = now - timedelta(days=30)
    unhandled = Warning.status != "handled"
    rows = s.execute(
        select(
            Warning.kind,
            func.sum(case((Warning.status == "open", 1), else_=0)),
            func.sum(case((Warning.status == "acknowledged", 1), else_=0)),
            func.sum(case((and_(unhandled, Warning.due_at < now), 1), else_=0)),
            func.sum(case((and_(unhandled, Warning.severity == "high"), 1), else_=0)),
            func.sum(case((and_(~unhandled, Warning.handled_at >= since), 1), else_=0)),
            func.sum(case((Warning.created_at >= since, 1), else_=0)),
        )
        .join(Subject, Subject.id == Warning.subject_id)
        .where(pop)
        .group_by(Warning.kind)
        .order_by(Warning.kind)
    ).all()
    names = ("open", "acknowledged", "overdue", "high_unhandled", "handled_30d", "raised_30d")
    by_kind = [{"kind": r[0], **{n: int(v or 0) for n, v in zip(names, r[1:], strict=True)}} for r in rows]
    return {"unhandled": sum(k["open"] + k["acknowledged"] for k in by_kind), "by_kind": by_kind}


def _compliance(on_time: int, late: int, missed: int) -> dict:
    due = on_time + late + missed
    rate = round(100 * (on_time + late) / due, 1) if due else None
    return {"due": due, "on_time": on_time, "late": late, "missed": missed, "rate_pct": rate}


def checkin_window(now: datetime) -> tuple[date, datetime]:
    """The compliance window: its first Shanghai day (today and the 29 days before it) and that day's start."""
    first = now.astimezone(TZ).date() - timedelta(days=TREND_DAYS - 1)
    return first, datetime.combine(first, time(0), TZ)


def _checkins(s: Session, pop, now: datetime) -> dict:
    """Check-in periods decided in the window, in total and per office (docs/warnings-and-suggestions.md#dashboard).

    A period is decided by its one ledger event: on time or late when a check-in was placed in it (at the
    check-in's counted time), missed when its late window closed without one (at due + 24 h). Events
    revoked (an upheld appeal) do not count.
    """
    first, since = checkin_window(now)
    live = and_(
        ScoreEvent.rule_code.in_(PERIOD_RULES),
        ScoreEvent.status != "revoked",
        ScoreEvent.occurred_at >= since,
        ScoreEvent.occurred_at <= now,
    )
    missed = ScoreEvent.rule_code == "CHECKIN_MISSED"
    rows = s.execute(
        select(
            Subject.office_id,
            *(func.sum(case((ScoreEvent.rule_code == rule, 1), else_=0)) for rule in PERIOD_RULES),
            func.count(func.distinct(case((missed, ScoreEvent.subject_id)))),
        )
        .select_from(ScoreEvent)
        .join(Subject, Subject.id == ScoreEvent.subject_id)
        .where(pop, live)
        .group_by(Subject.office_id)
    ).all()
    by_office = {
        oid: _compliance(*(int(n or 0) for n in counts)) | {"subjects_missed": int(people or 0)}
        for oid, *counts, people in rows
    }
    sums = [sum(r[key] for r in by_office.values()) for key in ("on_time", "late", "missed", "subjects_missed")]
    total = _compliance(*sums[:3]) | {"subjects_missed": sums[3]}
    return {"total": {"from": first, "days": TREND_DAYS, **total}, "by_office": by_office}


def _suggestions(s: Session, pop) -> dict:
    rows = s.execute(
        select(Suggestion.status, Suggestion.outcome, Suggestion.dismiss_reason, Suggestion.category, func.count())
        .join(Subject, Subject.id == Suggestion.subject_id)
        .where(pop)
        .group_by(Suggestion.status, Suggestion.outcome, Suggestion.dismiss_reason, Suggestion.category)
    ).all()
    out: dict[str, dict] = {"by_status": {}, "by_outcome": {}, "by_dismiss_reason": {}, "open_by_category": {}}
    for status, outcome, reason, category, n in rows:
        out["by_status"][status] = out["by_status"].get(status, 0) + n
        if outcome:
            out["by_outcome"][outcome] = out["by_outcome"].get(outcome, 0) + n
        if reason:
            out["by_dismiss_reason"][reason] = out["by_dismiss_reason"].get(reason, 0) + n
        if status in ("open", "accepted"):
            out["open_by_category"][category] = out["open_by_category"].get(category, 0) + n
    return {"total": sum(out["by_status"].values()), **out}


def _offices(
    s: Session, rules, actor: Actor, office_id: int | None, now: datetime, checkins: dict[int, dict]
) -> list[dict]:
    pop = _population(actor, office_id)
    colour = {b.code: b.colour for b in rules.bands}
    rows = s.execute(
        select(Subject.office_id, SubjectScore.grade, SubjectScore.base_pending, func.count())
        .outerjoin(SubjectScore, SubjectScore.subject_id == Subject.id)
        .where(pop)
        .group_by(Subject.office_id, SubjectScore.grade, SubjectScore.base_pending)
    ).all()
    offices: dict[int, dict] = {}
    for oid, grade, pending, n in rows:
        o = offices.setdefault(oid, _office_row(oid))
        o["subjects"] += n
        if grade is not None and not pending:
            o["by_colour"][colour.get(grade, "unknown")] = o["by_colour"].get(colour.get(grade, "unknown"), 0) + n
    for r in inbox.counts(s, actor, now):
        if r["office_id"] in offices:
            offices[r["office_id"]]["open_work"] += r["open"]
            offices[r["office_id"]]["overdue_work"] += r["overdue"]
    for model, live, key in (
        (Warning, Warning.status != "handled", "unhandled_warnings"),
        (Suggestion, Suggestion.status.in_(("open", "accepted")), "open_suggestions"),
    ):
        q = select(Subject.office_id, func.count()).select_from(model).join(Subject, Subject.id == model.subject_id)
        for oid, n in s.execute(q.where(pop, live).group_by(Subject.office_id)):
            if oid in offices:
                offices[oid][key] = n
    names = dict(s.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(list(offices) or [0]))).tuples().all())
    for oid, o in offices.items():
        o["name"] = names.get(oid, "")
        o["checkins"] = checkins.get(oid) or _compliance(0, 0, 0) | {"subjects_missed": 0}
    return [offices[k] for k in sorted(offices)]


def _office_row(oid: int) -> dict:
    return {
        "office_id": oid,
        "name": "",
        "subjects": 0,
        "by_colour": {},
        "open_work": 0,
        "overdue_work": 0,
        "unhandled_warnings": 0,
        "open_suggestions": 0,
        "checkins": {},
    }


def trend_dates(now: datetime) -> list[date]:
    """The dates of the trend, oldest first (for tests and clients)."""
    today = now.astimezone(TZ).date()
    return [today - timedelta(days=i) for i in range(TREND_DAYS - 1, -1, -1)]
