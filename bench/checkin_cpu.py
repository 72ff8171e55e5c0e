"""CPU per request of a check-in next to the floor's, in one process (PostgreSQL + Redis).

    .venv/bin/python bench/checkin_cpu.py [--subjects 2000] [--rounds 60] [--batch 10] [--profile N]
                                          [--url postgresql://postgres@127.0.0.1:5432/postgres]

``bench/checkin_load.py`` is the measure of record (gunicorn, a load client, the whole machine). This one
is the magnifying glass for working on the check-in's own code: the same data (its loaders), the same app
with the same floor route, driven through Flask's test client in one thread, floor and check-in batches
interleaved. It reports wall time and the thread's CPU time per request (the CPU time leaves out the
database's and Redis's own work and the waits for them) and the floor's share of each. With
``--profile N`` it then profiles N check-ins by CPU time and prints the heaviest calls (environment: SORT,
a pstats order such as ``tottime``; CALLEES / CALLERS, a pattern of functions whose callees or callers to print).
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import os
import pstats
import random
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import checkin_load as load  # noqa: E402 - bench/ on the path first
from pgload import fresh_database  # noqa: E402

WARM_UP = 50  # requests of each endpoint before the measure


def prepare(args) -> tuple[object, list[str], datetime]:
    """A database like checkin_load's (subjects, photos, history); the app; one token per subject."""
    url = fresh_database(args.url, args.database)
    env = load.configure(url, args.redis, tempfile.mkdtemp(prefix="zj-bench-cpu-"), f"benchcpu{os.getpid()}-")
    os.environ.update(env)
    taken = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    start = (taken.astimezone(load.SH) - timedelta(days=30)).date()
    checkins = WARM_UP + args.rounds * args.batch + args.profile
    photos = checkins // args.subjects + 1  # a photo for every check-in of the run
    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")
        levels = ("strict", "normal", "lenient")
        load.load_people(conn, args.subjects, lambda i: levels[i % 3], taken - timedelta(days=60), lambda i: start)
        load.load_uploads(conn, args.subjects, photos, taken)
        load.load_history(conn, args.subjects, args.history, photos, taken - timedelta(days=1))
        load.reset_sequences(conn)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return load.bench_app(), load.session_tokens(url, args.subjects), taken


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--database", default="zhijiao_bench_checkin_cpu")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    ap.add_argument("--subjects", type=int, default=2000)
    ap.add_argument("--history", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--batch", type=int, default=10, help="requests of one endpoint in a row")
    ap.add_argument("--profile", type=int, default=0, help="then profile this many check-ins")
    args = ap.parse_args()
    args.url = args.url.replace("postgresql+psycopg://", "postgresql://")
    app, tokens, taken = prepare(args)
    client = app.test_client()
    counter = itertools.count()
    n = args.subjects

    def checkin() -> None:
        k = next(counter)
        i = k % n + 1
        body = {"client_id": secrets.token_hex(12), "latitude": load.HOME[0], "longitude": load.HOME[1]}
        body |= {"accuracy_m": 12.0, "captured_at": taken.isoformat(), "upload_id": (k // n) * n + i}
        resp = client.post("/api/v1/me/checkins", data=json.dumps(body), headers=load._headers(tokens[i - 1]))
        assert resp.status_code == 201, resp.get_json()

    def floor() -> None:
        resp = client.post("/bench/floor", data="{}", headers=load._headers(random.choice(tokens)))
        assert resp.status_code == 201, resp.get_json()

    for _ in range(WARM_UP):  # connections, prepared statements, caches
        floor()
        checkin()
    totals = {"floor": [0.0, 0.0], "checkin": [0.0, 0.0]}
    for _ in range(args.rounds):
        for name, fn in (("floor", floor), ("checkin", checkin)):
            wall, cpu = time.perf_counter(), time.thread_time()
            for _ in range(args.batch):
                fn()
            totals[name][0] += time.perf_counter() - wall
            totals[name][1] += time.thread_time() - cpu
    per = args.rounds * args.batch
    out = {
        name: {"wall_ms": round(1000 * w / per, 3), "cpu_ms": round(1000 * c / per, 3)}
        for name, (w, c) in totals.items()
    }
    out["share_of_floor"] = {
        k: round(out["floor"][k] / out["checkin"][k], 3) for k in ("wall_ms", "cpu_ms")
    }  # fmt: skip
    for name in ("floor", "checkin"):
        print(f"{name:<8} wall {out[name]['wall_ms']:>7} ms  cpu {out[name]['cpu_ms']:>7} ms per request")
    print(f"share of the floor: wall {out['share_of_floor']['wall_ms']}, cpu {out['share_of_floor']['cpu_ms']}")
    print(json.dumps({"bench": "checkin_cpu", **out}), flush=True)
    if args.profile:
        prof = cProfile.Profile(time.thread_time)
        prof.enable()
        for _ in range(args.profile):
            checkin()
        prof.disable()
        st = pstats.Stats(prof).sort_stats(os.environ.get("SORT", "cumulative"))
        st.print_stats(40)
        if os.environ.get("CALLEES"):
            st.print_callees(os.environ["CALLEES"])
        if os.environ.get("CALLERS"):
            st.print_callers(os.environ["CALLERS"])
    from backend.db import db

    db.dispose()
    load._drop(args.url, args.database)


if __name__ == "__main__":
    main()
