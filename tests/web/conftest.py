"""Browser tests of the H5 app: Debian's Chromium driven by Playwright against a real ``zhijiao run``.

The server is what ``make run`` starts (migrations, the demo seed, gunicorn, an RQ worker and the cron
scheduler) on a database and Redis of its own, so the suite's per-test cleaning never touches it. Chromium is
Debian's (``/usr/bin/chromium``): Playwright's own browser download cannot work here. Without Chromium or
Playwright these tests are skipped, and only these (``make test`` says so in its result line).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import backends
from tests.api.test_ops import free_port
from tests.conftest import ROOT, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--lang=zh-CN",  # the browser's own locale: date-time inputs, pickers and screenshots in Chinese
]
#: Chromium on Linux takes its UI locale from the environment rather than --lang: both say zh-CN
CHROMIUM_ENV = {"LANGUAGE": "zh_CN:zh", "LANG": "zh_CN.UTF-8", "LC_ALL": "zh_CN.UTF-8"}
ZHIJIAO = str(Path(sys.executable).parent / "zhijiao")
DEMO_PASSWORD = "Demo#2026"
#: inside the demo district's permitted area (backend/services/demo/seed.py, FUYANG_AREA)
INSIDE = {"latitude": 30.0, "longitude": 119.7, "accuracy": 12}

try:
    import playwright.sync_api  # noqa: F401

    _PLAYWRIGHT = True
except ImportError:
    _PLAYWRIGHT = False


def pytest_collection_modifyitems(config, items):
    for item in items:  # a real `zhijiao run` (gunicorn, worker, cron) and a browser
        if "server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    why = None
    if not _PLAYWRIGHT:
        why = "browser tests: playwright is not installed"
    elif not os.path.exists(CHROMIUM):
        why = f"browser tests: no Chromium at {CHROMIUM} (apt-get install chromium)"
    if why:
        for item in items:  # only the tests that need the browser or the served app
            if {"browser", "server"} & set(getattr(item, "fixturenames", ())):
                item.add_marker(pytest.mark.skip(reason=why))


class Server:
    """A running ``zhijiao run`` and plain HTTP calls to its API (for the officer's side of a journey)."""

    def __init__(self, base: str, env: dict[str, str], log: Path) -> None:
        self.base = base
        self.env = env
        self.log = log
        self._tokens: dict[tuple[str, str], str] = {}

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + "/api/v1" + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else {}

    def login(self, username: str, password: str = DEMO_PASSWORD) -> str:
        """An access token of ``username``; one login per user and test session (logins are rate limited)."""
        if (username, password) not in self._tokens:
            status, body = self.call("POST", "/auth/login", {"username": username, "password": password})
            assert status == 200, body
            self._tokens[(username, password)] = body["access_token"]
        return self._tokens[(username, password)]


def _server_env(instance: Path, port: int) -> dict[str, str]:
    env = {
        "ZHIJIAO_ENV": "test",
        "INSTANCE_DIR": str(instance),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "CRON_TICK_SECONDS": "5",
        # every browser and API call of the suite comes from 127.0.0.1: the per-address limits of login and
        # activation (3× and 1× this per minute) would count the whole suite as one guessing client
        "RATE_LIMIT_LOGIN_PER_MINUTE": "200",
        "LOG_LEVEL": "INFO",
    }
    pg = backends.postgres_base()
    env["DATABASE_URL"] = (
        backends.fresh_postgres_db(pg, f"zhijiao_web_{os.getpid()}") if pg else f"sqlite:///{instance}/web.sqlite3"
    )
    rb = backends.redis_base()
    if rb:  # a Redis database no other test process flushes (they use 1 + worker index), queues named per process
        env["REDIS_URL"] = backends.redis_db_url(rb, 14 - backends.worker_index())
        env["QUEUE_PREFIX"] = f"web{os.getpid()}-"
    return env


@contextmanager
def running_server() -> Iterator[Server]:
    """``zhijiao run`` on a fresh instance folder, database and Redis database, until the block ends (Ctrl-C)."""
    instance = Path(f"/tmp/zjw-{os.getpid()}")  # short: the embedded Redis socket lives here
    shutil.rmtree(instance, ignore_errors=True)
    instance.mkdir()
    port = free_port()
    env = _server_env(instance, port)
    if "REDIS_URL" in env:
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    log = instance / "run.log"
    full = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "QUEUE_PREFIX")} | env
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [ZHIJIAO, "run"], env=full, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: proc.poll() is not None or b"is running on" in log.read_bytes(), timeout=240, interval=0.5)
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        print(f"zhijiao run ready in {time.monotonic() - started:.1f}s")
        yield Server(base, env, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C: stops the API, the worker, the cron and the embedded Redis
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if backends.postgres_base():
            backends.drop_postgres_db(backends.postgres_base(), env["DATABASE_URL"].rsplit("/", 1)[1])
        shutil.rmtree(instance, ignore_errors=True)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    with running_server() as s:
        yield s


def launch(playwright):
    """Debian's Chromium, in Chinese (zh-CN), as the tests and ``make screenshots`` drive it."""
    env = {**os.environ, **CHROMIUM_ENV}
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def phone(browser, base: str):
    """A phone-sized browser context at a position inside the demo district, location allowed."""
    ctx = browser.new_context(
        base_url=base,
        viewport={"width": 360, "height": 640},
        locale="zh-CN",  # navigator.language, Intl and Accept-Language (the browser's own UI: CHROMIUM_ARGS)
        timezone_id="Asia/Shanghai",
        geolocation=INSIDE,
        permissions=["geolocation"],
    )
    ctx.set_default_timeout(20_000)
    return ctx


@pytest.fixture
def context(browser, server):
    ctx = phone(browser, server.base)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    assert not errors, errors


def login(page, username: str, password: str = DEMO_PASSWORD, *, ok: bool = True) -> None:
    """Log in through the login screen; with ``ok``, wait until the role's home has replaced it."""
    from playwright.sync_api import expect

    page.goto("/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    if ok:
        expect(page.get_by_role("heading", level=1, name="智矫 · 登录")).to_have_count(0)
        page.wait_for_load_state("networkidle")
