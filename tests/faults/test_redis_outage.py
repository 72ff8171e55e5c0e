"""Redis stopped for a while under a stream of check-ins, then back: nothing dies, nothing is lost or done twice.

Real processes: gunicorn (2 workers), two RQ workers and the cron, on a private redis-server that the test
stops (its data is gone: no persistence) and starts again on the same port. And ``zhijiao run``'s
supervision: a killed child (the embedded Redis too) comes back; SIGINT stops them all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from backend.db import db
from backend.models import OutboxMessage, Upload
from backend.models.checkin import CheckIn as Checkin
from backend.models.scoring import ScoreEvent
from tests.conftest import ROOT
from tests.factories import PASSWORD
from tests.faults.conftest import ZHIJIAO, free_port, report, wait_for, wait_until
from tests.support.activities import HOME, new_subject, photo

RATE = 1  # check-ins a second (each one: declare, bytes, complete, check in; then three photo jobs)
STREAM_S = 30  # how long the stream runs
DOWN_AT_S, OUTAGE_S = 5, 15  # Redis stops this far into the stream, for this long
TICK_S = "5"  # the cron's tick in these tests (CRON_TICK_SECONDS): the relay runs every 5 s


def http(method: str, url: str, body=None, headers=None, data: bytes | None = None, timeout: float = 30):
    """(status, parsed JSON, or the raw bytes of another type) of one request; never raises on an HTTP error."""
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)  # noqa: S310 - a local test URL
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            raw = resp.read()
            if not resp.headers.get("Content-Type", "").startswith("application/json"):
                return resp.status, raw
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except ValueError:
            return err.code, raw[:300]


def login(base: str, username: str) -> dict:
    status, body = http("POST", base + "/api/v1/auth/login", {"username": username, "password": PASSWORD})
    assert status == 200, body
    return {"Authorization": "Bearer " + body["access_token"]}


def checkin_flow(base: str, headers: dict, data: bytes, taken: datetime) -> list[int]:
    """The phone's check-in: declare the selfie, send it, complete it, check in with it; the statuses."""
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    decl = {"purpose": "checkin", "content_type": "image/jpeg", "size_bytes": len(data), "sha256": sha}
    s1, d = http("POST", base + "/api/v1/uploads", decl, headers)
    if s1 != 201:
        return [s1]
    s2, _ = http("PUT", d["upload"]["url"], headers={**headers, "Content-Type": "image/jpeg"}, data=data)
    s3, _ = http("POST", f"{base}/api/v1/uploads/{d['id']}/complete", headers=headers, data=b"")
    body = {"client_id": str(uuid.uuid4()), "latitude": HOME[0], "longitude": HOME[1], "accuracy_m": 15.0}
    body |= {"captured_at": taken.isoformat(), "upload_id": d["id"]}
    s4, _ = http("POST", base + "/api/v1/me/checkins", body, headers)
    return [s1, s2, s3, s4]


def counts() -> dict:
    s = db.new_session()
    try:
        outbox = dict(s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
        checkins = dict(s.execute(select(Checkin.status, func.count()).group_by(Checkin.status)).all())
        unchecked = s.scalar(select(func.count()).select_from(Upload).where(Upload.checked_at.is_(None))) or 0
        per_source = (
            select(ScoreEvent.source_id, func.count().label("n"))
            .where(ScoreEvent.source_kind == "checkin")
            .group_by(ScoreEvent.source_id)
            .subquery()
        )
        doubled = s.scalar(select(func.count()).select_from(per_source).where(per_source.c.n > 1)) or 0
        return {"outbox": outbox, "checkins": checkins, "unchecked": unchecked, "doubled": doubled}
    finally:
        s.close()


def settled(c: dict) -> bool:
    return set(c["outbox"]) <= {"done"} and c["checkins"].get("pending", 0) == 0 and c["unchecked"] == 0


def outage_lines(proc) -> int:
    return proc.output(tail=10**7).count("Redis unreachable")


def test_redis_outage_under_a_stream_of_checkins(world, fault_env, procs, private_redis):
    subjects = [new_subject(world) for _ in range(3)]
    worker_env = {"CRON_TICK_SECONDS": TICK_S}
    workers = [procs.worker(env=worker_env, name=f"worker{i}") for i in range(2)]
    cron = procs.cron(env=worker_env)
    base, api = procs.api(workers=2)
    from backend.models import User

    with db.tx() as s:
        names = [s.get(User, subj.user_id).username for subj in subjects]
    heads = [login(base, n) for n in names]
    taken = datetime.now(UTC)
    total = RATE * STREAM_S
    photos = [photo(taken, seed=1000 + i) for i in range(total)]

    results: list[list[int]] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        statuses = checkin_flow(base, heads[i % len(heads)], photos[i], taken)
        with lock:
            results.append(statuses)

    t0 = time.monotonic()
    redis_back_at = None
    with ThreadPoolExecutor(max_workers=8) as pool:
        for i in range(total):
            elapsed = time.monotonic() - t0
            if private_redis.running and DOWN_AT_S <= elapsed < DOWN_AT_S + OUTAGE_S:
                private_redis.stop()
            elif not private_redis.running and elapsed >= DOWN_AT_S + OUTAGE_S:
                private_redis.start()
                redis_back_at = time.monotonic()
            pool.submit(one, i)
            time.sleep(max(0.0, t0 + (i + 1) / RATE - time.monotonic()))
    if not private_redis.running:
        private_redis.start()
        redis_back_at = time.monotonic()

    wait_until(lambda: settled(counts()), timeout=150, interval=1)
    recovery_s = time.monotonic() - redis_back_at  # Redis back → every row done, every check-in placed
    final = counts()
    sent = len(results)
    answered = sum(1 for r in results if r and r[-1] in (200, 201))
    done = final["outbox"].get("done", 0)
    lost = total - final["checkins"].get("counted", 0) - final["checkins"].get("invalid", 0)
    report(
        "redis outage",
        sent=sent,
        answered=answered,
        outbox_done=done,
        lost=lost,
        doubled=final["doubled"],
        recovery_s=recovery_s,
        outage_s=float(OUTAGE_S),
    )
    assert sent == total and answered == total, [r for r in results if not r or r[-1] not in (200, 201)][:5]
    assert all(s in (200, 201, 204) for r in results for s in r), [r for r in results if set(r) - {200, 201, 204}]
    assert (lost, final["doubled"], final["unchecked"]) == (0, 0, 0), final
    assert set(final["outbox"]) == {"done"}, final
    for proc in (*workers, cron, api):
        assert proc.alive(), f"{proc.name} died:\n{proc.output()}"
    for proc in (*workers, cron):  # logged once for the outage, not once per retry
        assert outage_lines(proc) == 1, f"{proc.name}: {outage_lines(proc)} outage lines\n{proc.output()}"


# --- zhijiao run: supervision --------------------------------------------------------------------------------


def _children_of(pid: int) -> dict[int, str]:
    kids = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids[int(stat.parent.name)] = cmd
    return kids


def _child(pid: int, marker: str) -> int | None:
    return next((p for p, cmd in _children_of(pid).items() if marker in cmd), None)


def test_zhijiao_run_restarts_a_dead_child_and_ctrl_c_stops_them_all(clean, settings, test_env, tmp_path):
    inst = Path(f"/tmp/zjf-{os.getpid()}-{uuid.uuid4().hex[:4]}")  # short: the embedded Redis socket lives here
    inst.mkdir()
    port = free_port()
    env = {**os.environ, **test_env, "INSTANCE_DIR": str(inst), "HOST": "127.0.0.1", "PORT": str(port)}
    # the session's keys, not new ones from the new instance folder: its cron writes audit rows into the
    # session's database, and rows signed with another audit key would break the chain for every later test
    env |= {"SECRET_KEY": settings.secret_key, "DATA_KEY": settings.data_key, "AUDIT_KEY": settings.audit_key}
    env |= {"WEB_CONCURRENCY": "1", "QUEUE_PREFIX": f"run{uuid.uuid4().hex[:6]}-", "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL")  # the embedded Redis: a supervised child of its own
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [ZHIJIAO, "run", "--no-seed"], env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    try:
        wait_for(lambda: proc.poll() is not None or "Ctrl-C stops everything" in log.read_text(), timeout=90)
        assert proc.poll() is None, log.read_text()[-3000:]
        markers = {"redis": "redis-server", "worker": "rq worker", "cron": "workers.cron", "api": "gunicorn"}
        pids = {name: _child(proc.pid, m) for name, m in markers.items()}
        assert all(pids.values()), (pids, _children_of(proc.pid))
        for name in ("worker", "redis"):
            t0 = time.monotonic()
            os.kill(pids[name], signal.SIGKILL)
            back = wait_for(lambda n=name: (p := _child(proc.pid, markers[n])) not in (None, pids[n]) and p, timeout=30)
            report(f"zhijiao run: killed {name}", restarted_after_s=time.monotonic() - t0)
            assert f"{name} exited with status" in log.read_text() and f"{name} restarted" in log.read_text()
            pids[name] = back
        wait_for(lambda: http("GET", f"http://127.0.0.1:{port}/readyz")[0] == 200, timeout=30)  # Redis is back
        children = list(_children_of(proc.pid))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopped: api, worker, cron, embedded redis" in log.read_text()
    assert [p for p in children if Path(f"/proc/{p}").exists()] == []
