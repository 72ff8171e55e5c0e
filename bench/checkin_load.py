"""Benchmark of check-ins under load (gunicorn, 2 workers, PostgreSQL + Redis) and of the nightly missed job.

    .venv/bin/python bench/checkin_load.py [--levels 2,8,32] [--seconds 60] [--rate 50] [--missed-subjects 50000]
                                           [--url postgresql://postgres@127.0.0.1:5432/postgres]

Load: a database of its own is created and loaded with COPY (an org tree whose district has an area, and
``--subjects`` subjects, each with photos already uploaded and checked, as the phone does before it checks
in). ``zhijiao``'s app runs under gunicorn with 2 workers, plus one bench-only route, the floor: an
endpoint that authenticates and inserts one row. A load client (threads, keep-alive HTTP) then sends, for
``--seconds`` at each concurrency of ``--levels``, floor requests and real check-ins (``POST
/api/v1/me/checkins``: the subject, retry and district read, geofence, the check-in, the photo's
attachment with its claim, the outbox row of the attachment checks, two audit rows, the RQ push; the
jobs themselves run in workers and are not part of this measure) from many subjects, in alternating
slices of ``--slice`` seconds so that the machine's drift hits both alike; then both at a fixed
``--rate`` per second. It reports throughput, p50 and p99
of each and the check-in's share of the floor. Goals (issue 20): ≥ 60 % of the floor's throughput at every
concurrency, p99 ≤ 30 ms at 50 requests/s.

Missed job: a second database with ``--missed-subjects`` subjects (levels mixed; 90 % of the periods that
ended checked in; each with its score row, as subjects this far into their correction have, unless
``--cold-scores``) and ``missed.run_missed`` timed once, as the nightly schedule runs it. Goal < 30 s.

Prints a line per measure and, last, one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import itertools
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from pgload import copy_rows, fresh_database  # noqa: E402 - bench/ on the path first

SH = ZoneInfo("Asia/Shanghai")
HOME = (30.05, 119.96)
AREA = {"type": "Point", "coordinates": [HOME[1], HOME[0]], "radius_m": 20000}


def bench_app():
    """The real app plus the floor route (gunicorn: ``checkin_load:bench_app()``)."""
    from flask import g, jsonify

    from backend.db import db
    from backend.models import Notification
    from mobile_api import create_app
    from mobile_api.http.security import authorize

    app = create_app()

    @authorize("checkin.self")
    def floor():
        with db.tx() as s:
            n = Notification(user_id=g.actor.user_id, kind="bench", title="floor")
            s.add(n)
            s.flush()
            nid = n.id
        return jsonify({"id": nid}), 201

    app.add_url_rule("/bench/floor", "bench_floor", floor, methods=["POST"])
    return app


# --- data ---------------------------------------------------------------------------------------------------


def load_people(conn, n: int, levels, created_at, start) -> None:
    """Org tree, one officer, ``n`` subjects (users without passwords: the bench signs their tokens)."""
    now = datetime.now(UTC)
    cur = conn.cursor()
    units = [
        (1, None, "province", "浙江省", "B-P", "/1/", None),
        (2, 1, "city", "杭州市", "B-C", "/1/2/", None),
        (3, 2, "district", "富阳区", "B-D", "/1/2/3/", json.dumps(AREA)),
        (4, 3, "office", "富春司法所", "B-O", "/1/2/3/4/", None),
        (5, 4, "grid", "第一网格", "B-G", "/1/2/3/4/5/", None),
    ]
    cols = ["id", "parent_id", "level", "name", "code", "path", "area", "created_at"]
    copy_rows(cur, "org_units", cols, [(*u, now) for u in units])
    user_cols = ["id", "username", "role", "display_name", "active", "failed_logins", "token_version", "created_at"]
    copy_rows(cur, "users", user_cols, [(1, "officer1", "officer", "所长", True, 0, 1, now)])
    copy_rows(cur, "user_units", ["user_id", "org_unit_id"], [(1, 4)])
    copy_rows(
        cur, "users", user_cols, ((i + 1, f"s{i}", "subject", f"对象{i}", True, 0, 1, now) for i in range(1, n + 1))
    )
    subject_cols = ["id", "user_id", "name", "gender", "id_number_enc", "id_number_hash", "correction_type"]
    subject_cols += ["start_date", "end_date", "supervision_level", "risk_level", "office_id", "grid_id"]
    subject_cols += ["officer_id", "status", "created_at"]
    rows = (
        (i, i + 1, f"对象{i}", "male", "x", f"{i:064d}", "probation", start(i), start(i) + timedelta(days=700))
        + (levels(i), "medium", 4, 5, 1, "in_correction", created_at)
        for i in range(1, n + 1)
    )
    copy_rows(cur, "subjects", subject_cols, rows)


def load_uploads(conn, n: int, per_subject: int, taken: datetime) -> None:
    """``per_subject`` accepted check-in photos per subject, as the photo pipeline leaves them."""
    now = datetime.now(UTC)
    facts = json.dumps(
        {"captured_at": taken.isoformat(), "latitude": HOME[0], "longitude": HOME[1], "make": "Xiaomi", "model": "K40"}
    )
    cols = ["id", "owner_id", "subject_id", "purpose", "status", "declared_type", "size_bytes", "sha256"]
    cols += ["storage_key", "upload_expires_at", "created_at", "completed_at", "checked_at", "format", "facts"]
    cols += ["reasons", "phash", "derivatives", "retention_hold"]
    rng = random.Random(7)
    rows = (
        (k * n + i, i + 1, i, "checkin", "accepted", "image/jpeg", 2_000_000, "0" * 64, f"originals/b/{k}/{i}")
        + (now + timedelta(days=1), now, now, now, "JPEG", facts, "[]", f"{rng.getrandbits(64):016x}", "{}", False)
        for k in range(per_subject)
        for i in range(1, n + 1)
    )
    copy_rows(conn.cursor(), "uploads", cols, rows)


def load_history(conn, n: int, per_subject: int, first_round: int, before: datetime) -> int:
    """``per_subject`` earlier check-ins per subject with what each left behind: its attached photo, its
    idempotency record, its done outbox row and its audit row (a valid chain). A running system has
    history; without it the planner sees empty tables and the run measures a cold start instead.
    Returns the number of check-ins loaded."""
    from types import SimpleNamespace

    from backend.services.core.audit import GENESIS, compute_mac

    cur = conn.cursor()
    facts = json.dumps({"make": "Xiaomi", "model": "K40"})
    history = [(k, i) for k in range(per_subject) for i in range(1, n + 1)]

    def at(k: int) -> datetime:
        return before - timedelta(days=3 * (per_subject - k))

    cols = ["id", "owner_id", "subject_id", "purpose", "status", "declared_type", "size_bytes", "sha256"]
    cols += ["storage_key", "upload_expires_at", "created_at", "completed_at", "checked_at", "format", "facts"]
    cols += ["reasons", "derivatives", "retention_hold", "record_type", "record_id", "attached_at"]
    copy_rows(
        cur,
        "uploads",
        cols,
        (
            ((first_round + k) * n + i, i + 1, i, "checkin", "accepted", "image/jpeg", 2_000_000, "0" * 64)
            + (f"originals/h/{k}/{i}", at(k), at(k), at(k), at(k), "JPEG", facts, "[]", "{}", False)
            + ("checkin", str(k * n + i), at(k))
            for k, i in history
        ),
    )
    cols = ["id", "subject_id", "client_id", "kind", "upload_id", "latitude", "longitude", "accuracy_m"]
    cols += ["captured_at", "received_at", "offline", "status", "counted_at", "time_basis", "outcome"]
    copy_rows(
        cur,
        "checkins",
        cols,
        (
            (k * n + i, i, f"h{k}-{i}", "checkin", (first_round + k) * n + i, *HOME, 12.0)
            + (at(k), at(k), False, "counted", at(k), "received", "on_time")
            for k, i in history
        ),
    )
    cols = ["user_id", "scope", "key", "request_hash", "status_code", "response_body", "created_at", "expires_at"]
    sealed = json.dumps({"sealed": "-"})
    copy_rows(
        cur,
        "idempotency_records",
        cols,
        ((i + 1, "checkin", f"h{k}-{i}", "0" * 64, 201, sealed, at(k), at(k) + timedelta(days=30)) for k, i in history),
    )
    cols = ["job", "payload", "status", "attempts", "created_at", "enqueued_at", "done_at"]
    copy_rows(
        cur,
        "outbox",
        cols,
        (
            (
                "evaluate_attachment",
                json.dumps({"upload_id": (first_round + k) * n + i}),
                "done",
                1,
                at(k),
                at(k),
                at(k),
            )
            for k, i in history
        ),
    )

    def audit_rows():
        prev = GENESIS
        for row_id, (k, i) in enumerate(history, start=1):
            row = SimpleNamespace(id=row_id, created_at=at(k), actor_id=i + 1, actor_role="subject")
            row.action, row.target_type, row.target_id = "checkin.create", "checkin", str(k * n + i)
            row.purpose, row.request_id, row.details = None, None, {"kind": "checkin", "status": "pending"}
            mac = compute_mac(prev, row)
            yield (*vars(row).values(), prev, mac)
            prev = mac

    cols = ["id", "created_at", "actor_id", "actor_role", "action", "target_type", "target_id", "purpose"]
    cols += ["request_id", "details", "prev_mac", "mac"]
    copy_rows(cur, "audit_log", cols, ((*r[:9], json.dumps(r[9]), *r[10:]) for r in audit_rows()))
    return len(history)


def reset_sequences(conn) -> None:
    for table in ("org_units", "users", "subjects", "uploads", "checkins", "idempotency_records", "outbox"):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
        )


def configure(url: str, redis: str, instance: str, prefix: str) -> dict:
    from backend import runtime
    from backend.config import load_settings
    from backend.db import db
    from backend.migrate import upgrade

    sa_url = url.replace("postgresql://", "postgresql+psycopg://")
    env = {"ZHIJIAO_ENV": "test", "DATABASE_URL": sa_url, "REDIS_URL": redis, "INSTANCE_DIR": instance}
    env |= {"LOG_LEVEL": "WARNING", "ACCESS_TOKEN_MINUTES": "600", "QUEUE_PREFIX": prefix}
    runtime.configure(load_settings(env))
    upgrade(sa_url)
    db.init(sa_url)
    return env


# --- the load client ----------------------------------------------------------------------------------------


class Client:
    """Threads with keep-alive connections; each request's latency and status are recorded."""

    def __init__(self, port: int, make_request) -> None:
        self.port, self.make_request = port, make_request

    def _worker(self, until: float, out: list, schedule=None) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while True:
            if schedule is not None:
                slot = next(schedule, None)
                if slot is None:
                    break
                time.sleep(max(0.0, slot - time.perf_counter()))
            elif time.perf_counter() >= until:
                break
            path, body, headers = self.make_request()
            t = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                status = 0
            out.append((time.perf_counter() - t, status))
        conn.close()

    def run(self, threads: int, seconds: float, rate: float | None = None, *, raw: bool = False):
        out: list = []
        start = time.perf_counter()
        lock, times = threading.Lock(), iter([start + i / rate for i in range(int(seconds * rate))] if rate else [])

        def slots():
            """Open loop: requests leave at a fixed rate, whatever the answers take."""
            while True:
                with lock:
                    v = next(times, None)
                if v is None:
                    return
                yield v

        workers = [
            threading.Thread(target=self._worker, args=(start + seconds, out, slots() if rate else None))
            for _ in range(threads)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - start
        return (out, elapsed) if raw else self.summary([(out, elapsed)])

    @staticmethod
    def summary(runs: list) -> dict:
        """Throughput over the runs' total time, p50 and p99 over all their requests."""
        out = [r for rows, _elapsed in runs for r in rows]
        elapsed = sum(e for _rows, e in runs)
        ok = sorted(lat for lat, st in out if 200 <= st < 300)
        bad = [st for _lat, st in out if not 200 <= st < 300]
        return {
            "requests": len(out),
            "errors": len(bad),
            "error_statuses": sorted(set(bad))[:5],
            "rps": round(len(ok) / elapsed, 1),
            "p50_ms": round(1000 * ok[len(ok) // 2], 1) if ok else None,
            "p99_ms": round(1000 * ok[min(len(ok) - 1, int(len(ok) * 0.99))], 1) if ok else None,
        }


def session_tokens(url: str, subjects: int) -> list[str]:
    """An access token per subject (user ids 2..subjects+1), each naming a live login: its refresh-token family
    row is loaded with COPY, since the API refuses an access token whose session has ended or never began."""
    from backend.services.identity.tokens import issue_access

    now = datetime.now(UTC)
    families = {user_id: str(uuid.uuid4()) for user_id in range(2, subjects + 2)}
    sql = "COPY refresh_tokens (user_id, family_id, token_hash, created_at, expires_at) FROM STDIN"
    with psycopg.connect(url) as conn, conn.cursor().copy(sql) as copy:
        for user_id, family in families.items():
            digest = hashlib.sha256(family.encode()).hexdigest()
            copy.write_row((user_id, family, digest, now, now + timedelta(days=30)))
    return [issue_access(user_id, "subject", 1, family)[0] for user_id, family in families.items()]


def load_test(args) -> dict:
    url = fresh_database(args.url, args.database)
    instance = tempfile.mkdtemp(prefix="zj-bench-ci-")
    env = configure(url, args.redis, instance, f"bench{os.getpid()}-")
    taken = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    start = (taken.astimezone(SH) - timedelta(days=30)).date()
    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")
        levels = ("strict", "normal", "lenient")
        load_people(conn, args.subjects, lambda i: levels[i % 3], taken - timedelta(days=60), lambda i: start)
        load_uploads(conn, args.subjects, 3, taken)  # photos enough for 3 check-ins per subject
        load_history(conn, args.subjects, args.history, 3, taken - timedelta(days=1))
        reset_sequences(conn)
        conn.commit()
    from backend.services.scoring import recompute

    recompute.recompute_all()  # every subject has a score already, as in steady state
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    tokens = session_tokens(url, args.subjects)
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "mobile_api/gunicorn_conf.py", "--pythonpath", "bench"]
        + ["checkin_load:bench_app()"],
        cwd=ROOT,
        env={**os.environ, **env, "WEB_CONCURRENCY": "2", "PORT": str(args.port), "HOST": "127.0.0.1"},
    )
    try:
        _wait_up(args.port)
        counter = itertools.count()
        body_at = taken.isoformat()

        def checkin():
            k = next(counter)
            i, round_ = k % args.subjects + 1, k // args.subjects
            upload_id = round_ * args.subjects + i
            body = {"client_id": secrets.token_hex(12), "latitude": HOME[0], "longitude": HOME[1]}
            body |= {"accuracy_m": 12.0, "captured_at": body_at, "upload_id": upload_id}
            return "/api/v1/me/checkins", json.dumps(body), _headers(tokens[i - 1])

        def floor():
            i = random.randrange(args.subjects)
            return "/bench/floor", "{}", _headers(tokens[i])

        results = {"levels": {}, "rate": {}}
        for level in args.levels:
            f, c = _alternating(args, level, Client(args.port, floor), Client(args.port, checkin))
            results["levels"][level] = {"floor": f, "checkin": c, "share_of_floor": round(c["rps"] / f["rps"], 2)}
            print(
                f"concurrency {level:>2}: check-ins {c['rps']:.1f}/s (p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms), "
                f"floor {f['rps']:.1f}/s (p50 {f['p50_ms']} ms); share of the floor "
                f"{results['levels'][level]['share_of_floor']} (goal ≥ 0.6)",
                flush=True,
            )
        threads = max(8, int(args.rate // 5))
        f = Client(args.port, floor).run(threads, args.rate_seconds, rate=args.rate)
        c = Client(args.port, checkin).run(threads, args.rate_seconds, rate=args.rate)
        results["rate"] = {"per_second": args.rate, "floor": f, "checkin": c}
        print(
            f"{args.rate:g}/s: check-ins p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms (goal ≤ 30 ms); "
            f"floor p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms",
            flush=True,
        )
        return results
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.keep:
            _drop(args.url, args.database)


def _alternating(args, level: int, floor: Client, checkin: Client) -> tuple[dict, dict]:
    """Floor and check-ins in alternating slices of ``--slice`` seconds until each had ``--seconds``.

    This machine's speed drifts by tens of percent over a minute; slices make both endpoints meet the
    same drift, so their ratio means something.
    """
    runs: dict[str, list] = {"floor": [], "checkin": []}
    slices = max(1, round(args.seconds / args.slice))
    for _ in range(slices):
        for name, client in (("floor", floor), ("checkin", checkin)):
            runs[name].append(client.run(level, args.seconds / slices, raw=True))
    return Client.summary(runs["floor"]), Client.summary(runs["checkin"])


def _headers(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _wait_up(port: int) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not come up")


def _drop(base: str, name: str) -> None:
    with psycopg.connect(base.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the nightly missed-check-in job ------------------------------------------------------------------------


def missed_job(args) -> dict:
    from backend.db import db
    from backend.services.activities import missed, periods

    name = args.database + "_missed"
    url = fresh_database(args.url, name)
    configure(url, args.redis, tempfile.mkdtemp(prefix="zj-bench-mj-"), f"benchm{os.getpid()}-")
    n = args.missed_subjects
    end = datetime.now(SH).date() - timedelta(days=1)
    due = periods.due_at(end)
    fire = due + periods.GRACE + timedelta(minutes=5)
    rng = random.Random(11)
    level_of = {i: rng.choices(("strict", "normal", "lenient"), (2, 5, 3))[0] for i in range(1, n + 1)}

    # start dates spread over a week: of each level, about 1/length of the subjects have a period ending on ``end``
    def start(i: int) -> date:
        return end - timedelta(days=400 + i % 7)

    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")
        # entered the day before: earlier periods of the look-back were due before they existed here
        load_people(conn, n, level_of.get, due - timedelta(days=1), start)
        load_uploads(conn, 1, 1, due)
        ending = [
            i for i in range(1, n + 1) if periods.is_period_end(end, start(i), periods.interval_days(level_of[i]))
        ]
        checked = [i for i in ending if rng.random() < 0.9]
        cols = ["subject_id", "client_id", "kind", "upload_id", "latitude", "longitude", "accuracy_m", "captured_at"]
        cols += ["received_at", "offline", "status", "counted_at", "time_basis", "outcome", "interval_days"]
        cols += ["period_end", "period_due_at"]
        at = due - timedelta(hours=2)
        rows = (
            (i, f"c{i}", "checkin", 1, *HOME, 10.0, at, at, False, "counted", at, "received", "on_time")
            + (periods.interval_days(level_of[i]), end, due)
            for i in checked
        )
        copy_rows(conn.cursor(), "checkins", cols, rows)
        reset_sequences(conn)
        conn.commit()
    if not args.cold_scores:
        from backend.services.scoring import recompute

        # subjects 400 days into correction have had events, so a score row each: steady state (without
        # this, every miss would also create its subject's score row from the ledger)
        recompute.recompute_all()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    with db.tx() as s:
        t = time.perf_counter()
        for back in range(missed.LOOKBACK_DAYS + 1):
            missed.find_missed(s, end - timedelta(days=back))
        find_s = time.perf_counter() - t
    t = time.perf_counter()
    result = missed.run_missed(fire)
    total = time.perf_counter() - t
    out = {"subjects": n, "periods_ending": len(ending), "missed": result["missed"]}
    out |= {"find_sql_s": round(find_s, 2), "job_s": round(total, 2)}
    print(f"missed job: {out}", flush=True)
    db.dispose()
    if not args.keep:
        _drop(args.url, name)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--database", default="zhijiao_bench_checkin")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    ap.add_argument("--subjects", type=int, default=20_000)
    ap.add_argument("--levels", type=lambda v: [int(x) for x in v.split(",")], default=[2, 8, 32])
    ap.add_argument("--seconds", type=float, default=60, help="per concurrency level and endpoint")
    ap.add_argument("--slice", type=float, default=5, help="floor and check-ins alternate in slices this long")
    ap.add_argument("--history", type=int, default=10, help="earlier check-ins per subject, loaded before the run")
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--rate-seconds", type=float, default=20)
    ap.add_argument("--missed-subjects", type=int, default=50_000)
    ap.add_argument("--cold-scores", action="store_true", help="missed job: no subject has a score row yet")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-missed", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = ap.parse_args()
    args.url = args.url.replace("postgresql+psycopg://", "postgresql://")
    report = {}
    if not args.skip_load:
        report["load"] = load_test(args)
    if not args.skip_missed:
        report["missed_job"] = missed_job(args)
    print(json.dumps({"bench": "checkin_load", "date": date.today().isoformat(), **report}))


if __name__ == "__main__":
    main()
