"""计分周期 (automatic repair): the daily expiry of due events, and the daily score snapshots for trend charts.

Both are idempotent per run: an event expires once (status moves only from active), and a day's
snapshot is written from that day's history rows, so a rerun or a late catch-up writes the same rows.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.db import db
from backend.models import utcnow
from backend.models.scoring import ScoreChange, ScoreSnapshot
from backend.services.core import audit
from backend.services.scoring import bulk
from backend.services.scoring.rules import current
from backend.services.scoring.sql import TZ, is_pg


def run_expiry(now: datetime | None = None) -> dict:
    """Expire every active event due by ``now`` and update the scores set-based; one audit row per run."""
    now = now or utcnow()
    with db.tx() as s:
        rules = current(s)
        result = bulk.expire(s, rules, now)
        audit.record_bulk(
            s,
            "score.expire",
            result.pop("subject_ids"),
            counts={"events": result["events"], "scores_changed": result["changed"]},
            details={"as_of": now.isoformat(), "rule_version": rules.version},
        )
    return result


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), TZ)
    return start, start + timedelta(days=1)


def snapshot_day(day: date, session: Session | None = None) -> int:
    """Write the end-of-day score of every subject whose score changed on ``day`` (Asia/Shanghai)."""
    start, end = day_bounds(day)
    with db.tx() as s:
        s = session or s
        last = (
            select(func.max(ScoreChange.id).label("id"))
            .where(ScoreChange.at >= start, ScoreChange.at < end)
            .group_by(ScoreChange.subject_id)
            .subquery()
        )
        rows = select(
            ScoreChange.subject_id,
            literal(day).label("day"),
            ScoreChange.total_after,
            ScoreChange.grade_after,
            ScoreChange.base_pending,
        ).join(last, last.c.id == ScoreChange.id)
        rows = rows.where(ScoreChange.subject_id.is_not(None))  # SQLite reads ON CONFLICT after a WHERE only
        t = ScoreSnapshot.__table__
        ins = (postgresql.insert if is_pg(s) else sqlite.insert)(t).from_select(
            ["subject_id", "day", "total", "grade", "base_pending"], rows
        )
        ins = ins.on_conflict_do_update(
            index_elements=["subject_id", "day"],
            set_={"total": ins.excluded.total, "grade": ins.excluded.grade, "base_pending": ins.excluded.base_pending},
        )
        return len(s.execute(ins.returning(t.c.subject_id)).all())


def scheduled_expiry(period_start: datetime) -> dict:
    """Schedule entry (daily): expire what was due by the period's fire time (catch-up runs are exact)."""
    result = run_expiry(min(period_start, utcnow()))
    return {k: v for k, v in result.items() if k != "subject_ids"}


def scheduled_snapshots(period_start: datetime) -> dict:
    """Schedule entry (daily, after midnight): the snapshots of the day before the fire time."""
    day = period_start.astimezone(TZ).date() - timedelta(days=1)
    return {"day": day.isoformat(), "snapshots": snapshot_day(day)}
