"""Reading a score: 我要查分 (dimensions explained), 我要权益 (benefits, city conversions), events and history."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.db import db
from backend.models import Subject, utcnow
from backend.models.scoring import DIMENSIONS, RuleSet, ScoreChange, ScoreEvent, ScoreSnapshot, SubjectScore
from backend.services.identity import access
from backend.services.scoring import effects, score
from backend.services.scoring.expiry import day_bounds
from backend.services.scoring.rules import Rules, by_version, current
from backend.services.scoring.sql import TZ

access.allow("scoring.self", {"subject"})
access.allow("scoring.read", {"officer", "bureau"})


def ensure(subject: Subject) -> SubjectScore:
    """The stored score, created from the ledger on first use."""
    with db.tx() as s:
        row = score.read(s, subject.id)
        if row is None:
            score.lock(s, subject, current(s))
    return score.read(db.session, subject.id)


def view(subject: Subject) -> dict:
    """The score with every dimension explained, the grade's benefits and city conversions, and the
    distance to the next grade up and down. While the base is pending no benefit or conversion applies."""
    row = ensure(subject)
    s = db.session
    rules = by_version(s, row.rule_version)
    band = rules.band(row.total)
    applies = not row.base_pending
    dims = []
    for d in DIMENSIONS:
        spec = rules.data["dimensions"][d]
        initial = rules.initial(d, subject.risk_level)
        raw = initial + getattr(row, f"sum_{d}")
        dims.append(
            {
                "dimension": d,
                "name": spec.get("name", d),
                "points": getattr(row, d),
                "max": rules.maxima[d],
                "initial": initial,
                "initial_source": f"risk_level:{subject.risk_level}" if d == "risk" else "default",
                "events_sum": getattr(row, f"sum_{d}"),
                "clamped": raw != getattr(row, d),
            }
        )
    return {
        "subject_id": subject.id,
        "total": row.total,
        "public_base": row.public_base,
        "base_pending": row.base_pending,
        "base_as_of": row.base_as_of,
        "provincial_score": row.provincial_score,
        "management": row.management,
        "dimensions": {d: getattr(row, d) for d in DIMENSIONS},
        "dimension_details": dims,
        "grade": band.code,
        "grade_name": band.name,
        "colour": band.colour,
        "effective_grade": effects.effective_grade(row.grade, row.base_pending),
        "benefits": [{"code": b, **rules.data["benefits"][b]} for b in band.benefits] if applies else [],
        "city_conversions": conversions(rules, band.colour, applies),
        "to_next_grade": to_next_grade(rules, row.total),
        "rule_version": row.rule_version,
        "frozen": row.frozen,
        "updated_at": row.updated_at,
    }


def conversions(rules: Rules, colour: str, applies: bool) -> list[dict]:
    """City credit conversions (e.g. Hangzhou 钱江分 遵纪守法: green 80 % of 60 = 48 points)."""
    out = []
    for city, spec in rules.data["city_conversions"].items():
        pct = spec["percent"].get(colour, 0) if applies else 0
        out.append(
            {
                "city": city,
                "name": spec["name"],
                "percent": pct,
                "points": spec["max_points"] * pct // 100,
                "max_points": spec["max_points"],
            }
        )
    return out


def to_next_grade(rules: Rules, total: int) -> dict:
    """Points to gain for the next band up, and points whose loss drops the score to the band below."""
    band = rules.band(total)
    idx = rules.bands.index(band)
    up = rules.bands[idx + 1] if idx + 1 < len(rules.bands) else None
    down = rules.bands[idx - 1] if idx > 0 else None
    return {
        "up": None if up is None else {"grade": up.code, "grade_name": up.name, "points": up.min - total},
        "down": None if down is None else {"grade": down.code, "grade_name": down.name, "points": total - band.min + 1},
    }


def events_query(subject_id: int, args: dict) -> Select:
    stmt = select(ScoreEvent).where(ScoreEvent.subject_id == subject_id)
    if args.get("status"):
        stmt = stmt.where(ScoreEvent.status == args["status"])
    if args.get("rule_code"):
        stmt = stmt.where(ScoreEvent.rule_code == args["rule_code"])
    if args.get("date_from"):
        stmt = stmt.where(ScoreEvent.occurred_at >= day_bounds(args["date_from"])[0])
    if args.get("date_to"):
        stmt = stmt.where(ScoreEvent.occurred_at < day_bounds(args["date_to"])[1])
    return stmt.order_by(ScoreEvent.occurred_at.desc(), ScoreEvent.id.desc())


def event_out(session: Session, events: list[ScoreEvent]) -> list[dict]:
    """Events with their rule's name (from the version they were made under)."""
    out = []
    for e in events:
        rule = by_version(session, e.rule_version).rules.get(e.rule_code)
        out.append(
            {
                **{c.key: getattr(e, c.key) for c in ScoreEvent.__table__.columns},
                "rule_name": rule.name if rule else e.rule_code,
            }
        )
    return out


def history(subject: Subject, date_from: date | None, date_to: date | None) -> dict:
    """Daily totals (end of day, carried over days without a change) and every dated change with its cause."""
    row = ensure(subject)
    s = db.session
    today = _today()
    date_to = min(date_to or today, today)
    date_from = max(date_from or date_to - timedelta(days=29), date_to - timedelta(days=366))
    start, _ = day_bounds(date_from)
    _, end = day_bounds(date_to)
    changes = s.scalars(
        select(ScoreChange)
        .where(ScoreChange.subject_id == subject.id, ScoreChange.at >= start, ScoreChange.at < end)
        .order_by(ScoreChange.at, ScoreChange.id)
    ).all()
    snaps = {
        sn.day: sn.total
        for sn in s.scalars(
            select(ScoreSnapshot).where(
                ScoreSnapshot.subject_id == subject.id, ScoreSnapshot.day >= date_from, ScoreSnapshot.day <= date_to
            )
        )
    }
    by_day = {c.at.astimezone(TZ).date(): c.total_after for c in changes}  # the last change of each day wins
    prior = s.execute(
        select(ScoreChange.total_after)
        .where(ScoreChange.subject_id == subject.id, ScoreChange.at < start)
        .order_by(ScoreChange.at.desc(), ScoreChange.id.desc())
        .limit(1)
    ).scalar()
    days, value, day = [], prior, date_from
    while day <= date_to:
        value = snaps.get(day, by_day.get(day, value))
        if day == today:
            value = row.total
        if value is not None:
            days.append({"date": day, "total": value})
        day += timedelta(days=1)
    versions = s.execute(
        select(RuleSet.version, RuleSet.published_at, RuleSet.note).where(
            RuleSet.published_at >= start, RuleSet.published_at < end, RuleSet.version > 1
        )
    ).all()
    return {
        "days": days,
        "changes": changes,
        "rule_versions": [{"version": v, "published_at": at, "note": n} for v, at, n in versions],
    }


def _today() -> date:
    return utcnow().astimezone(TZ).date()
