"""Scheduled jobs: periods in Asia/Shanghai, a recorded run per period, and catch-up of missed periods.

``rq cron`` counts cron expressions in UTC and forgets what it missed while it was down, so it only
ticks (every minute); the periods are computed here from each schedule's cron expression in
Asia/Shanghai and from the ``job_runs`` table: every fire time after the last successful run is due,
oldest first. A period runs at most once to success (a unique row per schedule and period), a failed
period stays due, and a later period never runs before an earlier one has succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db import db
from backend.models import JobRun, utcnow

log = logging.getLogger(__name__)
TZ = ZoneInfo("Asia/Shanghai")
#: periods run per tick at most; a longer gap is caught up over the following ticks
MAX_CATCH_UP = 60
#: a run still ``running`` after this long died with its process (the tick's RQ timeout is the same)
RUNNING_STALE = timedelta(hours=1)
_KEY_FORMAT = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True)
class Schedule:
    """A job meant at ``cron`` in Asia/Shanghai; ``run(period_start)`` does one period's work."""

    name: str
    cron: str
    run: Callable[[datetime], dict | None]
    description: str = ""


def period_key(start: datetime) -> str:
    """The stored name of a period: its fire time in Shanghai local time (sortable)."""
    return start.astimezone(TZ).strftime(_KEY_FORMAT)


def due_periods(schedule: Schedule, now: datetime | None = None, first_run_lookback: int = 1) -> list[datetime]:
    """Fire times (Shanghai, aware) after the last successful run up to ``now``, oldest first.

    A schedule that never succeeded runs its latest ``first_run_lookback`` fire times.
    """
    now = (now or utcnow()).astimezone(TZ)
    with db.tx() as s:
        last = s.scalar(
            select(func.max(JobRun.period)).where(JobRun.schedule == schedule.name, JobRun.status == "succeeded")
        )
    if last is None:
        it = croniter(schedule.cron, now + timedelta(seconds=1))  # a fire time equal to now counts
        return sorted(it.get_prev(datetime) for _ in range(first_run_lookback))
    it = croniter(schedule.cron, datetime.strptime(last, _KEY_FORMAT).replace(tzinfo=TZ))
    out: list[datetime] = []
    while len(out) < MAX_CATCH_UP:
        nxt = it.get_next(datetime)
        if nxt > now:
            break
        out.append(nxt)
    return out


def _claim(schedule: Schedule, key: str) -> tuple[str, int | None]:
    """Mark the period running; ('claimed', run id), or ('already-done' | 'busy', None)."""
    with db.tx() as s:
        row = s.scalar(select(JobRun).where(JobRun.schedule == schedule.name, JobRun.period == key).with_for_update())
        if row is not None:
            if row.status == "succeeded":
                return "already-done", None
            if row.status == "running" and row.started_at > utcnow() - RUNNING_STALE:
                return "busy", None
            row.status, row.started_at, row.finished_at, row.details = "running", utcnow(), None, {}
            return "claimed", row.id
        row = JobRun(schedule=schedule.name, period=key, status="running")
        try:
            with s.begin_nested():
                s.add(row)
                s.flush()
        except IntegrityError:  # another tick claimed it between our read and our insert
            return "busy", None
        return "claimed", row.id


def _finish(run_id: int, status: str, details: dict) -> None:
    with db.tx() as s:
        r = s.get(JobRun, run_id)
        r.status, r.finished_at, r.details = status, utcnow(), details


def run_period(schedule: Schedule, start: datetime) -> str:
    """Run one period at most once to success: 'ran', 'already-done', 'busy' (running elsewhere) or 'failed'.

    The work runs outside the claim's transaction (it owns its own); its result or error is recorded
    on the period's ``job_runs`` row.
    """
    key = period_key(start)
    state, run_id = _claim(schedule, key)
    if run_id is None:
        return state
    try:
        details = schedule.run(start) or {}
    except Exception as exc:  # noqa: BLE001 - recorded; the period stays due for the next tick
        log.exception("scheduled job failed", extra={"schedule": schedule.name, "period": key})
        _finish(run_id, "failed", {"error": repr(exc)[:500]})
        return "failed"
    _finish(run_id, "succeeded", details)
    log.info("scheduled job ran", extra={"schedule": schedule.name, "period": key})
    return "ran"


def run_due(schedule: Schedule, now: datetime | None = None) -> list[str]:
    """Run the schedule's due periods in order; stop at the first that fails or runs elsewhere."""
    out = []
    for start in due_periods(schedule, now):
        result = run_period(schedule, start)
        out.append(f"{period_key(start)}:{result}")
        if result in ("failed", "busy"):
            break
    return out


def record_baseline(session: Session, names: Iterable[str], at: datetime, reason: str) -> list[int]:
    """Record ``at`` as done for every named schedule that has no run yet (docs/schedules.md#catch-up).

    For data put in place by other means (the demo's activity) that already stands for the schedules' past
    periods: their catch-up then starts after ``at`` instead of running the latest fire time before it.
    Returns the ids of the rows written (none on a rerun).
    """
    key = period_key(at)
    made = []
    for name in names:
        if session.scalar(select(JobRun.id).where(JobRun.schedule == name).limit(1)) is not None:
            continue
        row = JobRun(schedule=name, period=key, status="succeeded", finished_at=utcnow(), details={"baseline": reason})
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:  # a tick claimed that very minute meanwhile: it is recorded either way
            continue
        made.append(row.id)
    return made


def last_success(name: str) -> JobRun | None:
    """The latest successful run of a schedule, if any."""
    with db.tx() as s:
        return s.scalar(
            select(JobRun)
            .where(JobRun.schedule == name, JobRun.status == "succeeded")
            .order_by(JobRun.period.desc())
            .limit(1)
        )
