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

Every figure is a sum over offices (a subject, and so each of their items, belongs to one office), so the
figures are counted per office (``count_offices``: one GROUP BY office per part, whatever the number of
offices) and added up for the caller's offices (``assemble``). ``cached`` keeps each office's figures for
``DASHBOARD_CACHE_SECONDS`` in the process and shares them between the office's officers and the
bureau: the answer's ``as_of`` is when its oldest office was counted, an office past half its life is
counted again in the background (the caller gets the figures held), and one past its life, or counted on
another day, is counted again before the answer. ``build`` always counts afresh. Which offices the caller
sees is decided on every request (``inbox.scope_offices``), never cached.
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.models import OrgUnit, Subject, Warning, utcnow
from backend.models.field import Suggestion
from backend.models.scoring import ScoreChange, ScoreEvent, SubjectScore
from backend.services.core.actors import Actor
from backend.services.identity import access
from backend.services.oversight import inbox
from backend.services.scoring.rules import current as current_rules
from backend.services.scoring.sql import is_pg

log = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Shanghai")
TREND_DAYS = 30
BUCKET = 50
#: the ledger's period events, in the order of _compliance's arguments: each decided check-in period has
#: exactly one (docs/checkins.md#placement)
PERIOD_RULES = ("CHECKIN_ONTIME", "CHECKIN_LATE", "CHECKIN_MISSED")
WARNING_FIGURES = ("open", "acknowledged", "overdue", "high_unhandled", "handled_30d", "raised_30d")
access.allow("dashboard.read", access.STAFF)


def _offices_asked(s: Session, actor: Actor, office_id: int | None) -> list[int]:
    """The offices of the caller's jurisdiction, or the one asked for if it is one of them (else none)."""
    offices = inbox.scope_offices(s, actor)
    return [o for o in offices if o == office_id] if office_id is not None else offices


def build(actor: Actor, office_id: int | None = None, now: datetime | None = None) -> dict:
    """Every number of the dashboard for the actor's jurisdiction, counted now (see the module docstring)."""
    access.require(actor, "dashboard.read")
    now = now or utcnow()
    s = db.session
    with db.tx():
        rules = current_rules(s)
    offices = _offices_asked(s, actor, office_id)
    return assemble(rules, office_id, count_offices(s, offices, now), now)


def cached(actor: Actor, office_id: int | None = None) -> dict:
    """``build`` through the per-office figures kept for DASHBOARD_CACHE_SECONDS (module docstring)."""
    ttl = runtime.settings().dashboard_cache_s
    if ttl <= 0:
        return build(actor, office_id)
    access.require(actor, "dashboard.read")
    now = utcnow()
    s = db.session
    with db.tx():
        rules = current_rules(s)
    offices = _offices_asked(s, actor, office_id)
    parts = _CACHE.get(offices, now, ttl)
    missing = [o for o in offices if o not in parts]
    if missing:
        parts |= _CACHE.put(count_offices(s, missing, now))
    _CACHE.refresh_ageing(parts, now, ttl)
    as_of = min((p["as_of"] for p in parts.values()), default=now)
    return assemble(rules, office_id, parts, as_of)


class _OfficeCache:
    """Each office's figures (``count_offices``) with the time they were counted, shared by the threads."""

    def __init__(self) -> None:
        self.parts: dict[int, dict] = {}
        self.refreshing: set[int] = set()
        self.lock = threading.Lock()

    def get(self, offices: list[int], now: datetime, ttl: int) -> dict[int, dict]:
        """The offices' figures still fresh: younger than ``ttl`` seconds and counted on the same day."""
        today = now.astimezone(TZ).date()
        with self.lock:
            found = {o: self.parts.get(o) for o in offices}
        return {
            o: p
            for o, p in found.items()
            if p is not None
            and p["as_of"] <= now
            and (now - p["as_of"]).total_seconds() < ttl
            and p["as_of"].astimezone(TZ).date() == today
        }

    def put(self, parts: dict[int, dict]) -> dict[int, dict]:
        with self.lock:
            for o, p in parts.items():
                known = self.parts.get(o)
                if known is None or known["as_of"] <= p["as_of"]:
                    self.parts[o] = p
        return parts

    def refresh_ageing(self, parts: dict[int, dict], now: datetime, ttl: int) -> None:
        """Count again, in a thread of its own, the offices past half their life (one refresh at a time each)."""
        with self.lock:
            ageing = [
                o
                for o, p in parts.items()
                if (now - p["as_of"]).total_seconds() >= ttl / 2 and o not in self.refreshing
            ]
            self.refreshing.update(ageing)
        if ageing:
            threading.Thread(target=self._refresh, args=(ageing,), name="dashboard-refresh", daemon=True).start()

    def _refresh(self, offices: list[int]) -> None:
        try:
            self.put(count_offices(db.session, offices, utcnow()))
        except Exception:  # a failed refresh leaves the held figures to expire; the next request counts them
            log.exception("dashboard refresh of offices %s failed", offices)
        finally:
            db.remove()
            with self.lock:
                self.refreshing.difference_update(offices)

    def clear(self) -> None:
        with self.lock:
            self.parts.clear()


_CACHE = _OfficeCache()


# --- counting, per office -----------------------------------------------------------------------------------


def _population(offices: list[int]):
    """Subjects in correction in ``offices``."""
    return and_(Subject.office_id.in_(offices), Subject.status == "in_correction")


def count_offices(s: Session, offices: list[int], now: datetime) -> dict[int, dict]:
    """Every office's figures at ``now``, each statement one GROUP BY office over all of ``offices``."""
    if not offices:
        return {}
    pop = _population(offices)
    today = now.astimezone(TZ).date()
    parts = {o: _office_part(o, now) for o in offices}
    for oid, grade, pending, level, n, scored, total in _groups(s, pop):
        parts[oid]["groups"].append((grade, pending, level, n, scored, total))
    for oid, bucket, n in _buckets(s, pop):
        parts[oid]["buckets"][bucket] = n
    for oid, day, delta, births in _changes(s, pop, today, now):
        parts[oid]["changes"][day] = (delta, births)
    for r in inbox.office_counts(s, offices, now):
        parts[r["office_id"]]["work"][r["kind"]] = (r["open"], r["overdue"])
    for oid, kind, *figures, unhandled in _warnings(s, pop, now):
        parts[oid]["warnings"][kind] = figures
        parts[oid]["unhandled_warnings"] += unhandled
    for oid, *row in _suggestions(s, pop):
        parts[oid]["suggestions"].append(tuple(row))
    for oid, *figures in _checkins(s, pop, now):
        parts[oid]["checkins"] = figures
    for oid, name in s.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(offices))):
        parts[oid]["name"] = name
    return parts


def _office_part(oid: int, now: datetime) -> dict:
    return {
        "office_id": oid,
        "name": "",
        "as_of": now,
        "groups": [],  # (grade, base pending, supervision level, subjects, scored subjects, sum of their totals)
        "buckets": {},
        "changes": {},  # Shanghai day -> (sum of the deltas, scores born)
        "work": {},  # kind -> (open, overdue)
        "warnings": {},  # kind -> WARNING_FIGURES
        "unhandled_warnings": 0,
        "suggestions": [],  # (status, outcome, dismiss reason, category, count)
        "checkins": (0, 0, 0, 0),  # on time, late, missed, subjects with a miss
    }


def _groups(s: Session, pop) -> list[tuple]:
    """The population by office, grade, pending base and level: subjects, scored ones and their totals' sum."""
    return [
        (oid, grade, pending, level, int(n), int(scored), int(total or 0))
        for oid, grade, pending, level, n, scored, total in s.execute(
            select(
                Subject.office_id,
                SubjectScore.grade,
                SubjectScore.base_pending,
                Subject.supervision_level,
                func.count(),
                func.count(SubjectScore.subject_id),
                func.coalesce(func.sum(SubjectScore.total), 0),
            )
            .select_from(Subject)
            .outerjoin(SubjectScore, SubjectScore.subject_id == Subject.id)
            .where(pop)
            .group_by(Subject.office_id, SubjectScore.grade, SubjectScore.base_pending, Subject.supervision_level)
        )
    ]


def _buckets(s: Session, pop) -> list[tuple]:
    last = 1000 // BUCKET - 1
    bucket = case((SubjectScore.total >= 1000, last), else_=SubjectScore.total // BUCKET).label("bucket")
    inner = (
        select(Subject.office_id, bucket)
        .select_from(SubjectScore)
        .join(Subject, Subject.id == SubjectScore.subject_id)
        .where(pop)
        .subquery()
    )
    grouped = select(inner.c.office_id, inner.c.bucket, func.count()).group_by(inner.c.office_id, inner.c.bucket)
    return [(oid, int(b), int(n)) for oid, b, n in s.execute(grouped)]


def _local_day(s: Session, col):
    if is_pg(s):
        return func.to_char(func.timezone("Asia/Shanghai", col), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", col, "+8 hours")  # Asia/Shanghai has kept UTC+8 without DST since 1991


def _changes(s: Session, pop, today: date, now: datetime) -> list[tuple]:
    """Per office and Shanghai day of the trend window (after its first day): the score deltas and births."""
    first = today - timedelta(days=TREND_DAYS - 1)
    since = datetime.combine(first + timedelta(days=1), time(0), TZ)  # changes after the first day's end
    inner = (
        select(
            Subject.office_id,
            _local_day(s, ScoreChange.at).label("day"),
            (ScoreChange.total_after - func.coalesce(ScoreChange.total_before, 0)).label("delta"),
            case((ScoreChange.total_before.is_(None), 1), else_=0).label("birth"),
        )
        .join(Subject, Subject.id == ScoreChange.subject_id)
        .where(pop, ScoreChange.at >= since, ScoreChange.at <= now)
        .subquery()
    )
    grouped = select(inner.c.office_id, inner.c.day, func.sum(inner.c.delta), func.sum(inner.c.birth)).group_by(
        inner.c.office_id, inner.c.day
    )
    return [(oid, day, int(delta or 0), int(births or 0)) for oid, day, delta, births in s.execute(grouped)]


def _warnings(s: Session, pop, now: datetime) -> list[tuple]:
    """Per office and kind: WARNING_FIGURES, then the unhandled ones."""
    since = now - timedelta(days=30)
    unhandled = Warning.status != "handled"
    rows = s.execute(
        select(
            Subject.office_id,
            Warning.kind,
            func.sum(case((Warning.status == "open", 1), else_=0)),
            func.sum(case((Warning.status == "acknowledged", 1), else_=0)),
            func.sum(case((and_(unhandled, Warning.due_at < now), 1), else_=0)),
            func.sum(case((and_(unhandled, Warning.severity == "high"), 1), else_=0)),
            func.sum(case((and_(~unhandled, Warning.handled_at >= since), 1), else_=0)),
            func.sum(case((Warning.created_at >= since, 1), else_=0)),
            func.sum(case((unhandled, 1), else_=0)),
        )
        .join(Subject, Subject.id == Warning.subject_id)
        .where(pop)
        .group_by(Subject.office_id, Warning.kind)
    )
    return [(oid, kind, *(int(v or 0) for v in figures)) for oid, kind, *figures in rows]


def _suggestions(s: Session, pop) -> list[tuple]:
    """Per office, status, outcome, dismissal reason and category: how many suggestions."""
    rows = s.execute(
        select(
            Subject.office_id,
            Suggestion.status,
            Suggestion.outcome,
            Suggestion.dismiss_reason,
            Suggestion.category,
            func.count(),
        )
        .join(Subject, Subject.id == Suggestion.subject_id)
        .where(pop)
        .group_by(
            Subject.office_id, Suggestion.status, Suggestion.outcome, Suggestion.dismiss_reason, Suggestion.category
        )
    )
    return [(oid, status, outcome, reason, category, int(n)) for oid, status, outcome, reason, category, n in rows]


def checkin_window(now: datetime) -> tuple[date, datetime]:
    """The compliance window: its first Shanghai day (today and the 29 days before it) and that day's start."""
    first = now.astimezone(TZ).date() - timedelta(days=TREND_DAYS - 1)
    return first, datetime.combine(first, time(0), TZ)


def _checkins(s: Session, pop, now: datetime) -> list[tuple]:
    """Check-in periods decided in the window per office (docs/warnings-and-suggestions.md#dashboard).

    A period is decided by its one ledger event: on time or late when a check-in was placed in it (at the
    check-in's counted time), missed when its late window closed without one (at due + 24 h). Events
    revoked (an upheld appeal) do not count. Per office: on time, late, missed, subjects with a miss.
    """
    _first, since = checkin_window(now)
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
    )
    return [(oid, *(int(n or 0) for n in counts)) for oid, *counts in rows]


# --- the answer, from the offices' figures ------------------------------------------------------------------


def assemble(rules, office_id: int | None, parts: dict[int, dict], as_of: datetime) -> dict:
    """The dashboard of the offices in ``parts`` (their sums), as of ``as_of``."""
    ordered = [parts[o] for o in sorted(parts)]
    groups = [g for p in ordered for g in p["groups"]]
    first, _since = checkin_window(as_of)
    checkins = _compliance(*(sum(p["checkins"][i] for p in ordered) for i in range(3)))
    return {
        "as_of": as_of,
        "office_id": office_id,
        "subjects": _subjects(rules, groups),
        "score_distribution": _distribution(ordered),
        "trend": _trend(ordered, as_of),
        "work": _work(ordered),
        "warnings": _warnings_total(ordered),
        "suggestions": _suggestions_total(ordered),
        "checkins": {
            "from": first,
            "days": TREND_DAYS,
            **checkins,
            "subjects_missed": sum(p["checkins"][3] for p in ordered),
        },
        "offices": [_office_row(rules, p) for p in ordered if p["groups"]],
    }


def _subjects(rules, groups: list[tuple]) -> dict:
    counts = {b.code: 0 for b in rules.bands}
    levels: dict[str, int] = {}
    pending = unscored = 0
    for grade, base_pending, level, n, _scored, _total in groups:
        levels[level] = levels.get(level, 0) + n
        if grade is None:
            unscored += n
        elif base_pending:
            pending += n
        else:
            counts[grade] = counts.get(grade, 0) + n
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
        "total": sum(g[3] for g in groups),
        "by_grade": by_grade,
        "by_colour": {g["colour"]: g["count"] for g in by_grade},
        "base_pending": pending,
        "unscored": unscored,
        "by_supervision_level": {k: levels.get(k, 0) for k in ("strict", "normal", "lenient")},
    }


def _distribution(parts: list[dict]) -> list[dict]:
    last = 1000 // BUCKET - 1
    return [
        {
            "from": i * BUCKET,
            "to": i * BUCKET + BUCKET - 1 + (1 if i == last else 0),
            "count": sum(p["buckets"].get(i, 0) for p in parts),
        }
        for i in range(last + 1)
    ]


def _trend(parts: list[dict], as_of: datetime) -> list[dict]:
    today = as_of.astimezone(TZ).date()
    count = sum(g[4] for p in parts for g in p["groups"])  # the subjects with a score today, and their sum
    total = sum(g[5] for p in parts for g in p["groups"])
    out = []
    for i in range(TREND_DAYS):  # newest first: the end of day d is today's values minus the changes after d
        d = today - timedelta(days=i)
        out.append({"date": d.isoformat(), "subjects": count, "average": round(total / count, 1) if count else None})
        later = [p["changes"].get(d.isoformat(), (0, 0)) for p in parts]
        total, count = total - sum(c[0] for c in later), count - sum(c[1] for c in later)
    return list(reversed(out))


def _work(parts: list[dict]) -> dict:
    kinds: dict[str, dict] = {}
    for p in parts:
        for kind, (n, late) in p["work"].items():
            k = kinds.setdefault(kind, {"kind": kind, "open": 0, "overdue": 0})
            k["open"] += n
            k["overdue"] += late
    by_kind = sorted(kinds.values(), key=lambda k: k["kind"])
    return {"open": sum(k["open"] for k in by_kind), "overdue": sum(k["overdue"] for k in by_kind), "by_kind": by_kind}


def _warnings_total(parts: list[dict]) -> dict:
    kinds: dict[str, dict] = {}
    for p in parts:
        for kind, figures in p["warnings"].items():
            k = kinds.setdefault(kind, {"kind": kind, **dict.fromkeys(WARNING_FIGURES, 0)})
            for name, v in zip(WARNING_FIGURES, figures, strict=True):
                k[name] += v
    by_kind = [kinds[k] for k in sorted(kinds)]
    return {"unhandled": sum(k["open"] + k["acknowledged"] for k in by_kind), "by_kind": by_kind}


def _suggestions_total(parts: list[dict]) -> dict:
    out: dict[str, dict] = {"by_status": {}, "by_outcome": {}, "by_dismiss_reason": {}, "open_by_category": {}}
    for p in parts:
        for status, outcome, reason, category, n in p["suggestions"]:
            out["by_status"][status] = out["by_status"].get(status, 0) + n
            if outcome:
                out["by_outcome"][outcome] = out["by_outcome"].get(outcome, 0) + n
            if reason:
                out["by_dismiss_reason"][reason] = out["by_dismiss_reason"].get(reason, 0) + n
            if status in ("open", "accepted"):
                out["open_by_category"][category] = out["open_by_category"].get(category, 0) + n
    return {"total": sum(out["by_status"].values()), **out}


def _compliance(on_time: int, late: int, missed: int) -> dict:
    due = on_time + late + missed
    rate = round(100 * (on_time + late) / due, 1) if due else None
    return {"due": due, "on_time": on_time, "late": late, "missed": missed, "rate_pct": rate}


def _office_row(rules, p: dict) -> dict:
    colour = {b.code: b.colour for b in rules.bands}
    by_colour: dict[str, int] = {}
    for grade, pending, _level, n, _scored, _total in p["groups"]:
        if grade is not None and not pending:
            by_colour[colour.get(grade, "unknown")] = by_colour.get(colour.get(grade, "unknown"), 0) + n
    on_time, late, missed, people = p["checkins"]
    return {
        "office_id": p["office_id"],
        "name": p["name"],
        "subjects": sum(g[3] for g in p["groups"]),
        "by_colour": by_colour,
        "open_work": sum(n for n, _late in p["work"].values()),
        "overdue_work": sum(late for _n, late in p["work"].values()),
        "unhandled_warnings": p["unhandled_warnings"],
        "open_suggestions": sum(r[4] for r in p["suggestions"] if r[0] in ("open", "accepted")),
        "checkins": _compliance(on_time, late, missed) | {"subjects_missed": people},
    }


def trend_dates(now: datetime) -> list[date]:
    """The dates of the trend, oldest first (for tests and clients)."""
    today = now.astimezone(TZ).date()
    return [today - timedelta(days=i) for i in range(TREND_DAYS - 1, -1, -1)]
