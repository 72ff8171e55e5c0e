"""Scheduled jobs, meant in Asia/Shanghai; ``rq cron`` only ticks, the periods are computed in jobruns.

Each entry's ``run(period_start)`` must be idempotent for its period: a period that failed half-way
runs again on the next tick.
"""

from __future__ import annotations

from datetime import datetime

from backend.services.activities import decisions, missed, monthly, reminders, returns
from backend.services.core import audit_checkpoints, idempotency, outbox
from backend.services.core.jobruns import Schedule
from backend.services.core.jobruns import run_due as run_due
from backend.services.evidence import retention
from backend.services.identity import auth
from backend.services.oversight import escalation
from backend.services.scoring import expiry as score_expiry
from backend.services.suggestions import engine


def _purge_idempotency(_start: datetime) -> dict:
    return {"deleted": idempotency.purge_expired()}


def _purge_refresh_tokens(_start: datetime) -> dict:
    return {"deleted": auth.purge_refresh_tokens()}


def _purge_outbox(_start: datetime) -> dict:
    return {"deleted": outbox.purge_done()}


SCHEDULES: list[Schedule] = [
    Schedule("purge_idempotency", "30 3 * * *", _purge_idempotency, "drop idempotency records past their expiry"),
    Schedule("purge_outbox", "45 3 * * *", _purge_outbox, "drop outbox rows done more than 7 days ago"),
    Schedule("purge_refresh_tokens", "50 3 * * *", _purge_refresh_tokens, "drop refresh tokens dead for 30 days"),
    Schedule("score_expiry", "5 0 * * *", score_expiry.scheduled_expiry, "计分周期: expire due score events"),
    Schedule("score_snapshots", "20 0 * * *", score_expiry.scheduled_snapshots, "daily score snapshots (trend)"),
    Schedule("expire_uploads", "*/30 * * * *", retention.run_expire, "expire uploads never completed"),
    Schedule("purge_originals", "40 3 * * *", retention.run_purge, "delete originals past retention"),
    Schedule("suggestions", "0 2 * * *", engine.scheduled, "精准矫正建议: evaluate every subject's triggers"),
    Schedule("end_date_reminders", "0 8 * * *", reminders.scheduled, "remind officers 30 and 7 days before end dates"),
    # reminders to subjects, each sent once (docs/schedules.md#reminders)
    Schedule("checkin_reminders", reminders.CHECKIN_CRON, reminders.scheduled_checkin, "due-day check-in reminder"),
    Schedule("education_progress", reminders.EDUCATION_CRON, reminders.scheduled_education, "education behind pace"),
    # activities (issue 5): each idempotent per period, catching up through job_runs
    Schedule("checkins_missed", "5 22 * * *", missed.scheduled_missed, "missed check-ins (due + 24 h passed)"),
    Schedule("leave_overdue", "10 0 * * *", returns.scheduled_overdue, "leaves without a return by end + 24 h"),
    # escalation (issue 18): requests past their start date expire; overdue items told once per stage
    Schedule("request_expiry", "1 0 * * *", decisions.scheduled_expiry, "open requests past their start date"),
    Schedule("overdue_notices", "*/15 * * * *", escalation.scheduled_notices, "overdue items: officer, then bureau"),
    Schedule("education_monthly", "30 1 1 * *", monthly.scheduled_monthly, "education: last month met or not"),
    Schedule("education_reminders", "0 9 20 * *", monthly.scheduled_reminders, "under half on the 20th"),
    # the audit chain's head, anchored outside the database (docs/audit-and-privacy.md#checkpoints)
    Schedule("audit_checkpoint", audit_checkpoints.CRON, audit_checkpoints.scheduled, "signed audit-chain checkpoint"),
]
