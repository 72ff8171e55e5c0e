"""One lock order for a subject's rows: the check-in jobs of many subjects on several real workers, no deadlock.

A first check-in's photo verdict queues ``check_face`` and ``place_checkin`` together; several workers run
them at the same moment. Both (and the attachment checks before them) lock the subject's rows in the one
order of docs/schedules.md#lock-order, so PostgreSQL never finds a deadlock (``pg_stat_database.deadlocks``
does not move) and no job fails (no outbox row records an error). PostgreSQL + Redis pass only.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text

from backend import runtime
from backend.db import db
from backend.models import OutboxMessage, Warning
from backend.models.checkin import CheckIn
from backend.models.faces import FaceCheck
from backend.models.scoring import ScoreEvent
from tests.faults.conftest import report, wait_until
from tests.support.activities import checkin_body, declared_only, headers_for, new_subject
from tests.support.uploads import run_outbox

SUBJECTS = 50
WORKERS = 4
SH = ZoneInfo("Asia/Shanghai")


def _deadlocks() -> int:
    """This database's deadlock count as PostgreSQL's statistics have it (a fresh snapshot)."""
    with db.engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        return conn.execute(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        ).scalar_one()


def _outbox() -> dict[str, int]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(OutboxMessage.status, OutboxMessage.last_error.is_not(None), func.count()).group_by(
                OutboxMessage.status, OutboxMessage.last_error.is_not(None)
            )
        ).all()
    out = {"pending": 0, "done": 0, "failed": 0, "errored": 0}
    for status, errored, n in rows:
        out[status] = out.get(status, 0) + n
        if errored:
            out["errored"] += n
    return out


def _settled() -> bool:
    """Every row done, or a row that recorded an error (without the relay it would stay pending)."""
    with db.engine.connect() as conn:
        waiting = conn.execute(
            select(func.count()).where(OutboxMessage.status == "pending", OutboxMessage.last_error.is_(None))
        ).scalar_one()
        unplaced = conn.execute(select(func.count()).where(CheckIn.status == "pending")).scalar_one()
    return waiting == 0 and (unplaced == 0 or _outbox()["errored"] > 0)


def test_check_in_jobs_on_several_workers_never_deadlock(client, world, fault_env, procs):
    runtime.configure(dataclasses.replace(runtime.settings(), rate_limit_login_per_minute=1000))  # 50 logins
    now = datetime.now(SH).replace(microsecond=0)
    subjects = [new_subject(world, start_date=date.today() - timedelta(days=40)) for _ in range(SUBJECTS)]
    heads = [headers_for(client, s) for s in subjects]
    # photos checked first (in this process), then every subject's first check-in: each queues its
    # attachment checks, whose verdict queues check_face (no reference yet: a warning) and place_checkin
    uploads = [declared_only(client, h, now) for h in heads]
    run_outbox()  # their checks
    for h, uid in zip(heads, uploads, strict=True):
        resp = client.post("/api/v1/me/checkins", json=checkin_body(uid, now), headers=h)
        assert resp.status_code == 201, resp.get_json()

    before = _deadlocks()
    t0 = time.monotonic()
    workers = [procs.worker(name=f"worker{i}") for i in range(WORKERS)]
    took = wait_until(_settled, timeout=240, interval=0.5)
    assert all(w.alive() for w in workers), workers[0].output()
    time.sleep(1.0)  # PostgreSQL publishes a backend's statistics when it goes idle
    deadlocks = _deadlocks() - before
    box = _outbox()

    with db.engine.connect() as conn:
        counted = conn.execute(select(func.count()).where(CheckIn.status == "counted")).scalar_one()
        ontime = conn.execute(select(func.count()).where(ScoreEvent.rule_code == "CHECKIN_ONTIME")).scalar_one()
        faces = conn.execute(select(func.count()).where(FaceCheck.status == "done")).scalar_one()
        warned = conn.execute(select(func.count()).where(Warning.kind == "FACE_REFERENCE_MISSING")).scalar_one()
        linked = conn.execute(select(func.count()).where(CheckIn.event_id.is_not(None))).scalar_one()
    report(
        "lock order",
        checkins=SUBJECTS,
        workers=WORKERS,
        deadlocks=deadlocks,
        failed_jobs=box["errored"],
        given_up=box["failed"],
        jobs_done=box["done"],
        counted=counted,
        seconds=round(time.monotonic() - t0, 1),
        settled_s=took,
    )
    assert deadlocks == 0
    assert box["errored"] == 0 and box["failed"] == 0 and box["pending"] == 0
    assert counted == ontime == linked == faces == warned == SUBJECTS
