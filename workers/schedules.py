"""Scheduled jobs, meant in Asia/Shanghai; ``rq cron`` only ticks, the periods are computed here."""

from __future__ import annotations

from datetime import datetime

from backend.services import idempotency
from backend.services.jobruns import Schedule, due_periods, run_period


def _purge_idempotency(_start: datetime) -> dict:
    return {"deleted": idempotency.purge_expired()}


SCHEDULES: list[Schedule] = [
    Schedule("purge_idempotency", "30 3 * * *", _purge_idempotency, "drop idempotency records past 30 days"),
]


def run_due(schedule: Schedule) -> list[str]:
    return [f"{p.isoformat()}:{run_period(schedule, p)}" for p in due_periods(schedule)]
