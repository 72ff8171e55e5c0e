"""Operations endpoints: /healthz, /readyz with real outages, /metrics across gunicorn workers, OpenAPI, /docs."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from backend import runtime
from backend.db import db
from tests.conftest import ROOT, wait_for

ZHIJIAO = str(Path(sys.executable).parent / "zhijiao")


# --- helpers shared with test_cli.py: a real ``zhijiao serve`` on a free port -----------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One HTTP request over a new connection; (status, headers, body) also for 4xx and 5xx answers."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _answers(base: str) -> bool:
    try:
        http("GET", base + "/readyz")
        return True
    except OSError:
        return False


@contextmanager
def served(env: dict[str, str], log_path: Path, workers: int = 2) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run ``zhijiao serve`` (gunicorn) with ``env`` until the block ends, then stop it with SIGTERM."""
    port = free_port()
    full = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [ZHIJIAO, "serve"], env=full, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_for(lambda: proc.poll() is not None or _answers(base), timeout=60, interval=0.2)
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            yield base, proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- in-process: liveness and readiness ----------------------------------------------------------------


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


def test_readyz_all_up(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "storage": "ok"}}
    assert "Retry-After" not in resp.headers


def _assert_down(resp, dependency: str) -> None:
    assert resp.status_code == 503
    assert resp.headers["Retry-After"].isdigit() and int(resp.headers["Retry-After"]) > 0
    body = resp.get_json()
    assert body["code"] == "SERVICE_UNAVAILABLE"
    assert body["message"] and body["message_en"]
    assert set(body["errors"]) == {dependency}, body
    assert body["checks"][dependency] == "down"
    assert all(v == "ok" for k, v in body["checks"].items() if k != dependency), body


@pytest.fixture
def with_settings(monkeypatch, settings):
    """Run a request under changed settings (restored afterwards): ``with_settings(redis_url=...)``."""

    def apply(**changes):
        monkeypatch.setattr(runtime, "_settings", dataclasses.replace(settings, **changes))

    return apply


def test_readyz_redis_down(client, with_settings):
    with_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    _assert_down(client.get("/readyz"), "redis")


def test_readyz_database_down(client, monkeypatch, tmp_path):
    if db.is_sqlite:  # the database file's folder is gone (an unmounted volume)
        url = f"sqlite:///{tmp_path}/missing/zhijiao.sqlite3"
    else:  # the database server is not listening
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/zhijiao"
    dead = create_engine(url)
    monkeypatch.setattr(db, "engine", dead)
    try:
        _assert_down(client.get("/readyz"), "database")
    finally:
        dead.dispose()


def test_readyz_local_storage_not_writable(client, with_settings, tmp_path):
    blocked = tmp_path / "photos"
    blocked.write_bytes(b"")  # a file where the photo folder should be: nothing can be written below it
    with_settings(storage_backend="local", storage_dir=blocked / "store")
    _assert_down(client.get("/readyz"), "storage")


def test_readyz_s3_unreachable(client, with_settings):
    with_settings(
        storage_backend="s3",
        s3_endpoint=f"http://127.0.0.1:{free_port()}",
        s3_bucket="photos",
        s3_access_key="k",
        s3_secret_key="s",
    )
    _assert_down(client.get("/readyz"), "storage")


# --- in-process: the API description ------------------------------------------------------------------


def test_openapi_is_valid(client):
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    validate(spec)  # raises on any violation of the OpenAPI 3.0 schema, including unresolved $refs
    for path in ("/healthz", "/readyz", "/metrics", "/api/v1/auth/login", "/api/v1/meta/error-codes"):
        assert path in spec["paths"], path


def test_docs_serves_swagger_ui(client):
    resp = client.get("/docs")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert "SwaggerUIBundle" in page and "/openapi.json" in page


def test_metrics_in_process(client):
    client.get("/healthz")
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    names = {f.name for f in text_string_to_metric_families(resp.get_data(as_text=True))}
    assert {
        "zhijiao_http_requests",
        "zhijiao_http_request_seconds",
        "zhijiao_queue_depth",
        "zhijiao_outbox_backlog",
    } <= names


# --- a real gunicorn with two workers ------------------------------------------------------------------


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def _healthz_count(samples: dict) -> float:
    return sum(
        v
        for (name, labels), v in samples.items()
        if name == "zhijiao_http_requests_total" and dict(labels).get("endpoint") == "/healthz"
    )


def _healthz_latency_count(samples: dict) -> float:
    return sum(
        v
        for (name, labels), v in samples.items()
        if name == "zhijiao_http_request_seconds_count" and dict(labels).get("endpoint") == "/healthz"
    )


@pytest.mark.slow
def test_metrics_aggregated_across_gunicorn_workers(clean, settings, test_env, tmp_path, monkeypatch):
    from backend.services.core import outbox

    # one outbox row, pushed after commit to a queue no test worker listens to: backlog 1, queue depth 1
    prefix = f"metrics{os.getpid()}-"
    monkeypatch.setattr(runtime, "_settings", dataclasses.replace(settings, queue_prefix=prefix))
    with db.tx() as s:
        outbox.add(s, "test.nothing", {"n": 1})
    metrics_dir = tmp_path / "prom"
    env = {**test_env, "QUEUE_PREFIX": prefix, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    sent = 0
    with served(env, tmp_path / "gunicorn.log", workers=2) as (base, proc):
        status, _, _ = http("GET", base + "/readyz")
        assert status == 200
        with ThreadPoolExecutor(max_workers=8) as pool:
            # new connection per request; keep going (bounded) until both workers have served some
            for _ in range(10):
                statuses = list(pool.map(lambda _i: http("GET", base + "/healthz")[0], range(40)))
                assert statuses == [200] * 40
                sent += 40
                pids = {int(p.stem.rsplit("_", 1)[1]) for p in metrics_dir.glob("counter_*.db")}
                if len(pids) >= 2:
                    break
        assert len(pids) >= 2, "only one gunicorn worker served requests"
        status, headers, body = http("GET", base + "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        samples = _samples(body.decode())
        assert _healthz_count(samples) == sent
        assert _healthz_latency_count(samples) == sent
        assert samples[("zhijiao_queue_depth", frozenset({("queue", prefix + "default")}))] == 1
        assert samples[("zhijiao_outbox_backlog", frozenset())] == 1
        # a second scrape, probably served by the other worker, sees the same totals
        assert _healthz_count(_samples(http("GET", base + "/metrics")[2].decode())) == sent
    assert proc.returncode == 0, (tmp_path / "gunicorn.log").read_text(errors="replace")[-3000:]
    assert not [p for p in pids if _alive(p)], "gunicorn workers left running"
