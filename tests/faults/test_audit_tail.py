"""The audit tail cut off: the checkpoint the scheduled job wrote shows it (``zhijiao audit verify`` and the API).

A real worker runs the cron's tick, whose ``audit_checkpoint`` schedule writes a signed checkpoint of the
chain's head to the photo store. A tamperer with database access then deletes the newest three rows
(the chain alone still verifies); ``zhijiao audit verify`` exits 1 saying the chain is truncated,
``POST /admin/audit/verify`` answers ``truncated``, and no checkpoint is written for the shorter chain.
PostgreSQL + Redis pass only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from contextlib import contextmanager

import pytest
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import func, select, text

from backend import runtime
from backend.db import db
from backend.models import AuditLog, JobRun
from backend.redis_conn import get_redis
from backend.services.core import audit, audit_checkpoints
from media.storage import LocalStorage
from tests.core.test_audit import append_only_triggers_off
from tests.factories import auth_header
from tests.faults.conftest import ROOT, ZHIJIAO, report, wait_until

CUT = 3


@contextmanager
def tail_cut_from(first: int):
    """Delete every audit row from ``first`` on; afterwards drop what was written meanwhile and put them back."""
    table = AuditLog.__table__
    # both edits hold the chain lock that every audit writer takes to read the last link and append: a writer
    # of another test (this process's live worker, a job still finishing) must not chain a row onto the cut
    # log between the restore's delete and insert, which would fork the chain for every later test
    lock = text(f"SELECT pg_advisory_xact_lock({audit._LOCK_KEY})")
    with append_only_triggers_off():
        with db.engine.begin() as conn:
            conn.execute(lock)
            saved = [dict(r) for r in conn.execute(select(table).where(table.c.id >= first)).mappings()]
            conn.execute(table.delete().where(table.c.id >= first))
        try:
            yield saved
        finally:
            with db.engine.begin() as conn:
                conn.execute(lock)
                conn.execute(table.delete().where(table.c.id >= first))  # rows chained onto the cut log
                conn.execute(table.insert(), sorted(saved, key=lambda r: r["id"]))


def _cli_verify(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ZHIJIAO, "audit", "verify"], env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _checkpoint_run() -> JobRun | None:
    with db.engine.connect() as conn:
        return conn.execute(
            select(JobRun).where(JobRun.schedule == "audit_checkpoint", JobRun.status == "succeeded")
        ).first()


def test_cutting_the_audit_tail_is_reported_truncated(client, world, fault_env, procs, tmp_path):
    store_dir = tmp_path / "store"
    env = {**fault_env, "STORAGE_BACKEND": "local", "STORAGE_DIR": str(store_dir)}
    runtime.configure(dataclasses.replace(runtime.settings(), storage_backend="local", storage_dir=store_dir))
    admin = auth_header(client, "admin")

    # the cron's tick, run by a real worker: every schedule's latest period, the checkpoint among them
    worker = procs.worker(env=env)
    queue = Queue(runtime.settings().queue_prefix + "default", connection=get_redis(), serializer=JSONSerializer)
    queue.enqueue("workers.jobs.tick_schedules", job_timeout=600)
    took = wait_until(lambda: _checkpoint_run() is not None, timeout=180, interval=0.5)
    assert worker.alive(), worker.output()
    worker.stop()  # nothing writes audit rows behind the tamperer's back from here on

    store = LocalStorage(store_dir)
    session = db.new_session()
    try:
        chain = audit_checkpoints.chain_id(session)
    finally:
        session.close()
    keys = store.keys(f"{audit_checkpoints.PREFIX}{chain}/")
    assert len(keys) == 1
    with store.open(keys[0]) as fh:
        head = json.loads(fh.read())["last_id"]
    with db.engine.connect() as conn:
        assert conn.execute(select(func.max(AuditLog.id))).scalar_one() >= head
    assert "audit chain intact" in _cli_verify(env).stdout

    with tail_cut_from(head - CUT + 1):
        session = db.new_session()
        try:
            assert audit.verify(session).ok, "the chain alone cannot see a cut tail"
        finally:
            session.close()
        out = _cli_verify(env)
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"audit chain TRUNCATED: the log ends at row {head - CUT}, but checkpoint 1" in out.stderr
        assert f"saw row {head}" in out.stderr
        resp = client.post("/api/v1/admin/audit/verify", headers=admin)
        assert resp.status_code == 200, resp.get_json()
        got = resp.get_json()
        assert (got["ok"], got["truncated"], got["broken_id"]) == (False, True, head - CUT + 1)
        assert got["checkpoint"]["last_id"] == head and got["checkpoints"] == 1
        with pytest.raises(audit_checkpoints.CheckpointRefused):
            audit_checkpoints.write()  # no checkpoint ever anchors the shorter chain
        assert store.keys(f"{audit_checkpoints.PREFIX}{chain}/") == keys

    after = _cli_verify(env)
    assert after.returncode == 0 and "audit chain intact" in after.stdout, after.stderr
    report("audit tail", cut_rows=CUT, checkpoint_row=head, detected="cli+api", checkpoint_after_s=took)
