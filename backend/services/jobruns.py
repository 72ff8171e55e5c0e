"""Scheduled jobs: periods in Asia/Shanghai, a recorded run per period, and catch-up of missed periods."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.db import db
from backend.models import JobRun, utcnow

TZ = ZoneInfo("Asia/Shanghai")
MAX_CATCH_UP = 60  # periods; older ones are left for an operator to decide


@dataclass(frozen=True)
class Schedule:
    """A job meant at ``cron`` in Asia/Shanghai; ``run(period_start)`` does one period's work."""

    name: str
    cron: str
    run: Callable[[datetime], dict]
    description: str = ""


def period_key(start: datetime) -> str:
    return start.astimezone(TZ).strftime("%Y-%m-%dT%H:%M")


def due_periods(schedule: Schedule, now: datetime | None = None, first_run_lookback: int = 1) -> list[datetime]:
    """Fire times (Shanghai, aware) after the last successful run up to ``now``, oldest first."""
    now = (now or utcnow()).astimezone(TZ)
    with db.tx() as s:
        last = s.scalar(
            select(func.max(JobRun.period)).where(JobRun.schedule == schedule.name, JobRun.status == "succeeded")
        )
    if last is None:
        it = croniter(schedule.cron, now)
        starts = [it.get_prev(datetime) for _ in range(first_run_lookback)]
        return sorted(starts)
    start = datetime.strptime(last, "%Y-%m-%dT%H:%M").replace(tzinfo=TZ)
    it = croniter(schedule.cron, start)
    out = []
    while len(out) < MAX_CATCH_UP:
        nxt = it.get_next(datetime)
        if nxt > now:
            break
        out.append(nxt)
    return out


def run_period(schedule: Schedule, start: datetime) -> str:
    """Run one period at most once to success: 'ran', 'skipped' (done or running elsewhere) or 'failed'."""
    key = period_key(start)
    with db.tx() as s:
        row = s.scalar(select(JobRun).where(JobRun.schedule == schedule.name, JobRun.period == key))
        if row is not None and (
            row.status == "succeeded" or (row.status == "running" and row.started_at > utcnow() - timedelta(hours=1))
        ):
            return "skipped"
        if row is None:
            row = JobRun(schedule=schedule.name, period=key, status="running")
            try:
                with s.begin_nested():
                    s.add(row)
                    s.flush()
            except IntegrityError:
                return "skipped"
        else:
            row.status, row.started_at = "running", utcnow()
        run_id = row.id
    try:
        details = schedule.run(start) or {}
    except Exception as exc:
        with db.tx() as s:
            r = s.get(JobRun, run_id)
            r.status, r.finished_at, r.details = "failed", utcnow(), {"error": repr(exc)[:500]}
        raise
    with db.tx() as s:
        r = s.get(JobRun, run_id)
        r.status, r.finished_at, r.details = "succeeded", utcnow(), details
    return "ran"


def last_success(name: str) -> JobRun | None:
    with db.tx() as s:
        return s.scalar(
            select(JobRun)
            .where(JobRun.schedule == name, JobRun.status == "succeeded")
            .order_by(JobRun.period.desc())
            .limit(1)
        )
