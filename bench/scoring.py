"""Benchmark of the credit correction score on PostgreSQL, each figure next to its floor in the same run.

    .venv/bin/python bench/scoring.py [--subjects 50000] [--events 200] [--runs 3] [--emits 1000]
                                      [--url postgresql://postgres@127.0.0.1:5432/postgres]

A database of its own is created (and dropped afterwards unless --keep), migrated, and loaded with COPY:
``--subjects`` subjects with about ``--events`` ledger events each over two years (the mix of rule set v1;
old penalties already expired, ``--due-fraction`` of the events due for expiry now), 90 % with a public
credit base. Then, interleaved so that load on the machine hits both alike:

- full recompute: ``recompute_all()`` (the CLI's ``zhijiao scores recompute``: every score from the
  ledger, the rows that differ rewritten with history rows, one audit row, commit) against the floor, one
  SQL ``SELECT subject_id, dimension, SUM(points) … WHERE status = 'active' GROUP BY subject_id, dimension``
  with its rows fetched; goal ≤ 1.25× the floor (issue 20, part 3);
- ``emit_event``: one call, its transaction included (session checkout, lock, cap, insert, score update,
  history, commit), on random subjects and rules; goal p99 ≤ 8 ms. Its floor, each call paired with one
  emit in alternating order: one transaction on an open psycopg connection that inserts the same event row
  (revoked, so the ledger's sums stay as they are) and updates the subject's score row, then commits;
- the daily expiry job ``run_expiry()`` against one set-based ``UPDATE score_events SET status = 'expired'``
  of the same rows (committed); both start from the same state; goal ≤ 1.5×.

The last line of the output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from pgload import copy_rows, fresh_database, ts  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: (rule code, dimension, points, expiry days, per hour, weight) — the shape of a real ledger under v1
MIX = [
    ("CHECKIN_ONTIME", "compliance", 1, None, False, 40),
    ("CHECKIN_LATE", "compliance", -2, 90, False, 6),
    ("CHECKIN_MISSED", "compliance", -5, 180, False, 4),
    ("LEAVE_RETURN_ONTIME", "compliance", 1, None, False, 4),
    ("EDU_MONTH_MET", "education", 3, None, False, 3),
    ("EDU_MONTH_MISSED", "education", -5, 180, False, 1),
    ("EDU_EXTRA_HOUR", "education", 1, None, True, 8),
    ("SERVICE_HOUR", "public_welfare", 1, None, True, 12),
    ("GRID_POSITIVE", "behaviour", 2, None, False, 10),
    ("GRID_NEGATIVE", "behaviour", -5, 180, False, 3),
    ("EVIDENCE_FRAUD", "behaviour", -10, 180, False, 1),
    ("GEOFENCE_BREACH", "compliance", -20, 365, False, 1),
    ("LEAVE_OVERDUE", "compliance", -10, 365, False, 1),
    ("EMPLOYMENT_VERIFIED", "employment", 10, None, False, 1),
    ("MERIT_DONATION", "public_welfare", 5, None, False, 1),
]
EMIT_RULES = ["CHECKIN_ONTIME", "CHECKIN_MISSED", "GRID_POSITIVE", "GRID_NEGATIVE", "SERVICE_HOUR"]
NOW = datetime.now(UTC).replace(microsecond=0)
DUE_LO, DUE_HI = NOW - timedelta(days=2), NOW - timedelta(days=1)


def load_people(conn, subjects: int, rng: random.Random) -> None:
    now = NOW
    cur = conn.cursor()
    units = [
        (1, None, "province", "浙江省", "B-P", "/1/"),
        (2, 1, "city", "杭州市", "B-C", "/1/2/"),
        (3, 2, "district", "富阳区", "B-D", "/1/2/3/"),
        (4, 3, "office", "富春司法所", "B-O", "/1/2/3/4/"),
        (5, 4, "grid", "第一网格", "B-G", "/1/2/3/4/5/"),
    ]
    copy_rows(
        cur, "org_units", ["id", "parent_id", "level", "name", "code", "path", "created_at"], [(*u, now) for u in units]
    )
    user_cols = ["id", "username", "role", "display_name", "active", "failed_logins", "token_version", "created_at"]
    copy_rows(cur, "users", user_cols, [(1, "officer1", "officer", "所长", True, 0, 1, now)])
    copy_rows(cur, "user_units", ["user_id", "org_unit_id"], [(1, 4)])
    copy_rows(
        cur,
        "users",
        user_cols,
        ((i + 1, f"s{i}", "subject", f"对象{i}", True, 0, 1, now) for i in range(1, subjects + 1)),
    )
    risks = ("low", "medium", "high")
    subject_cols = [
        "id",
        "user_id",
        "name",
        "gender",
        "id_number_enc",
        "id_number_hash",
        "correction_type",
        "start_date",
        "end_date",
        "supervision_level",
        "risk_level",
        "office_id",
        "grid_id",
        "officer_id",
        "status",
        "created_at",
    ]
    copy_rows(
        cur,
        "subjects",
        subject_cols,
        (
            (
                i,
                i + 1,
                f"对象{i}",
                "male",
                "x",
                hashlib.sha256(str(i).encode()).hexdigest(),
                "probation",
                date(2024, 1, 1),
                date(2027, 12, 31),
                "normal",
                rng.choice(risks),
                4,
                5,
                1,
                "in_correction",
                now,
            )
            for i in range(1, subjects + 1)
        ),
    )
    copy_rows(
        cur,
        "public_credit_bases",
        ["subject_id", "as_of", "provincial_score", "source", "created_at"],
        (
            (i, date(2026, 1, 1), rng.randint(450, 960), "bench", now)
            for i in range(1, subjects + 1)
            if rng.random() < 0.9
        ),
    )


def event_lines(subjects: int, per_subject: int, due_fraction: float, rng: random.Random):
    """Tab-separated COPY lines of the ledger; yields (text chunk, due count so far)."""
    codes, weights = [m[:5] for m in MIX], [m[5] for m in MIX]
    neg_share = sum(m[5] for m in MIX if m[2] < 0) / sum(weights)
    p_due = due_fraction / neg_share
    eid, due, buf = 0, 0, []
    for sid in range(1, subjects + 1):
        for code, dim, pts, exp_days, per_hour in rng.choices(
            codes, weights, k=rng.randint(per_subject // 2, per_subject * 3 // 2)
        ):
            eid += 1
            at = NOW - timedelta(seconds=rng.randrange(730 * 86400))
            qty = rng.randint(30, 180) if per_hour else 1
            points = qty // 60 * pts if per_hour else pts
            expires, status, changed, ref = None, "active", None, None
            if exp_days:
                expires = at + timedelta(days=exp_days)
                if rng.random() < p_due:
                    expires = DUE_LO + timedelta(seconds=rng.randrange(86400))
                    due += 1
                elif expires <= NOW:
                    status, changed, ref = "expired", expires, "expiry"
                elif rng.random() < 0.002:
                    status, changed, ref = "revoked", at + timedelta(days=3), "appeal:0"
            buf.append(
                f"{eid}\t{sid}\t{dim}\t{points}\t{points}\t{code}\t1\tbench\t{eid}\t{qty}\t{ts(at)}\t"
                f"{at.strftime('%Y-%m')}\t{ts(expires) if expires else chr(92) + 'N'}\t{status}\t"
                f"{ts(changed) if changed else chr(92) + 'N'}\t{ref or chr(92) + 'N'}\t\\N\t\\N\t{ts(at)}\n"
            )
        if len(buf) >= 50_000:
            yield "".join(buf), due
            buf = []
    yield "".join(buf), due


def load_events(conn, subjects: int, per_subject: int, due_fraction: float, rng: random.Random) -> tuple[int, int]:
    cur = conn.cursor()
    idx = cur.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'score_events' AND indexname NOT LIKE 'pk_%'"
    ).fetchall()
    cons = cur.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'score_events'::regclass "
        "AND contype = 'u'"
    ).fetchall()
    for name, _ in cons:
        cur.execute(f'ALTER TABLE score_events DROP CONSTRAINT "{name}"')
    for name, _ in idx:
        cur.execute(f'DROP INDEX IF EXISTS "{name}"')
    cols = (
        "id, subject_id, dimension, points, requested_points, rule_code, rule_version, source_kind, source_id, "
        "quantity, occurred_at, month, expires_at, status, status_changed_at, status_ref, reason, confirmed_by, "
        "created_at"
    )
    due = 0
    with cur.copy(f"COPY score_events ({cols}) FROM STDIN") as cp:
        for chunk, due_so_far in event_lines(subjects, per_subject, due_fraction, rng):
            cp.write(chunk)
            due = due_so_far
    for name, definition in cons:
        cur.execute(f'ALTER TABLE score_events ADD CONSTRAINT "{name}" {definition}')
    for name, definition in idx:
        if name not in {c[0] for c in cons}:
            cur.execute(definition)
    total = cur.execute("SELECT count(*) FROM score_events").fetchone()[0]
    for table in ("org_units", "users", "subjects", "public_credit_bases", "score_events"):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    return total, due


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def floor_recompute(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "SELECT subject_id, dimension, SUM(points) FROM score_events WHERE status = 'active' "
            "GROUP BY subject_id, dimension"
        ).fetchall()


def floor_expiry(url: str) -> int:
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            "UPDATE score_events SET status = 'expired', status_changed_at = %s, status_ref = 'expiry' "
            "WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= %s",
            (NOW, NOW),
        )
        conn.commit()
        return cur.rowcount


def drift_scores(url: str) -> None:
    """Make every stored score differ from the ledger (a stored sum off by one), so a recompute rewrites all."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE subject_scores SET sum_risk = sum_risk + 1")
        conn.execute("VACUUM ANALYZE subject_scores")


def reset_due(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE score_events SET status = 'active', status_changed_at = NULL, status_ref = NULL "
            "WHERE expires_at >= %s AND expires_at < %s",
            (DUE_LO, DUE_HI),
        )
        conn.execute("VACUUM ANALYZE score_events")
        conn.execute("VACUUM ANALYZE subject_scores")


_FLOOR_INSERT = (
    "INSERT INTO score_events (subject_id, dimension, points, requested_points, rule_code, rule_version, "
    "source_kind, source_id, quantity, occurred_at, month, expires_at, status, status_changed_at, status_ref, "
    "reason, confirmed_by, created_at) VALUES (%s, %s, %s, %s, %s, 1, 'bench_floor', %s, %s, %s, %s, NULL, "
    "'revoked', %s, 'bench', NULL, NULL, %s)"
)
_FLOOR_UPDATE = "UPDATE subject_scores SET updated_at = %s WHERE subject_id = %s"
_RULES = {m[0]: m for m in MIX}


def floor_emit(conn, sid: int, code: str, i: int, qty: int) -> None:
    """The emit floor: the same event row inserted and the subject's score row updated, one commit."""
    _, dim, pts, _, _, _ = _RULES[code]
    now = datetime.now(UTC)
    conn.execute(_FLOOR_INSERT, (sid, dim, pts, pts, code, str(i), qty, now, now.strftime("%Y-%m"), now, now))
    conn.execute(_FLOOR_UPDATE, (now, sid))
    conn.commit()


def ms(x: float) -> float:
    return round(x * 1000, 2)


def pct(sorted_xs: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of sorted values."""
    return sorted_xs[max(0, min(len(sorted_xs) - 1, round(q * len(sorted_xs)) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--database", default="zhijiao_bench_scoring")
    ap.add_argument("--subjects", type=int, default=50_000)
    ap.add_argument("--events", type=int, default=200, help="average ledger events per subject")
    ap.add_argument("--due-fraction", type=float, default=0.01, help="share of the events due for expiry")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--emits", type=int, default=1000)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    url = fresh_database(args.url.replace("postgresql+psycopg://", "postgresql://"), args.database)
    sa_url = url.replace("postgresql://", "postgresql+psycopg://")
    from backend import runtime
    from backend.config import load_settings
    from backend.db import db
    from backend.migrate import upgrade

    instance = tempfile.mkdtemp(prefix="zj-bench-")
    env = {
        "ZHIJIAO_ENV": "test",
        "DATABASE_URL": sa_url,
        "REDIS_URL": args.redis,
        "INSTANCE_DIR": instance,
        "LOG_LEVEL": "WARNING",
    }
    runtime.configure(load_settings(env))
    upgrade(sa_url)
    db.init(sa_url)
    from backend.models import utcnow
    from backend.services.scoring import emit_event, expiry, recompute

    t0 = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")  # no FK triggers row by row while loading
        conn.execute("SET maintenance_work_mem = '512MB'")
        load_people(conn, args.subjects, rng)
        events, due = load_events(conn, args.subjects, args.events, args.due_fraction, rng)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    load_s = time.perf_counter() - t0
    print(f"loaded {args.subjects} subjects, {events} events ({due} due for expiry) with COPY in {load_s:.1f} s")
    first = timed(recompute.recompute_all)  # creates every score row
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE subject_scores")
    print(f"first recompute (creates the {args.subjects} score rows): {first:.2f} s")

    floor, ours, results = [], [], []
    for run in range(args.runs):
        pair = [("floor", lambda: floor_recompute(url)), ("ours", lambda: results.append(recompute.recompute_all()))]
        for name, fn in pair if run % 2 == 0 else reversed(pair):
            (floor if name == "floor" else ours).append(timed(fn))
    # the same job when every stored score differs from the ledger (as after a rule-set publication): every
    # row rewritten; no goal of its own, shown next to the same floor
    rewrite = []
    for _ in range(args.runs):
        drift_scores(url)
        rewrite.append(timed(recompute.recompute_all))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE subject_scores")
    rec = {
        "floor_s": [round(x, 3) for x in floor],
        "recompute_s": [round(x, 3) for x in ours],
        "ratio": round(statistics.median(ours) / statistics.median(floor), 2),
        "changed": [r["changed"] for r in results],  # scores whose visible value changed (history rows)
        "rewrite_all_s": [round(x, 3) for x in rewrite],
        "rewrite_all_ratio": round(statistics.median(rewrite) / statistics.median(floor), 2),
    }
    print(
        f"full recompute: median {statistics.median(ours):.2f} s vs floor {statistics.median(floor):.2f} s "
        f"→ {rec['ratio']}× (goal ≤ 1.25×); with every score row rewritten: {statistics.median(rewrite):.2f} s "
        f"→ {rec['rewrite_all_ratio']}×"
    )

    latencies, floors = [], []
    with psycopg.connect(url) as floor_conn:
        for i in range(args.emits + 50):
            sid = rng.randint(1, args.subjects)
            code = rng.choice(EMIT_RULES)
            qty = rng.randint(30, 150) if code == "SERVICE_HOUR" else 1
            ours_t = floor_t = 0.0
            for name in ("ours", "floor") if i % 2 == 0 else ("floor", "ours"):
                if name == "ours":
                    ours_t = timed(
                        lambda sid=sid, code=code, qty=qty, i=i: emit_event(sid, code, "bench_emit", i, utcnow(), qty)
                    )
                    db.remove()
                else:
                    floor_t = timed(lambda sid=sid, code=code, qty=qty, i=i: floor_emit(floor_conn, sid, code, i, qty))
            if i >= 50:  # warm-up: the pool, prepared statements, caches
                latencies.append(ours_t)
                floors.append(floor_t)
    latencies.sort()
    floors.sort()
    emit = {
        "median_ms": ms(statistics.median(latencies)),
        "p99_ms": ms(pct(latencies, 0.99)),
        "mean_ms": ms(statistics.fmean(latencies)),
        "floor_median_ms": ms(statistics.median(floors)),
        "floor_p99_ms": ms(pct(floors, 0.99)),
        "median_ratio": round(statistics.median(latencies) / statistics.median(floors), 2),
        "p99_ratio": round(pct(latencies, 0.99) / pct(floors, 0.99), 2),
        "calls": len(latencies),
    }
    print(
        f"emit_event: median {emit['median_ms']} ms, p99 {emit['p99_ms']} ms over {emit['calls']} calls "
        f"(goal p99 ≤ 8 ms) vs floor (INSERT + UPDATE, commit) median {emit['floor_median_ms']} ms, "
        f"p99 {emit['floor_p99_ms']} ms → {emit['median_ratio']}× median, {emit['p99_ratio']}× p99"
    )

    reset_due(url)
    recompute.recompute_all()
    floor, ours, expired = [], [], []
    for run in range(args.runs):
        order = ["floor", "ours"] if run % 2 == 0 else ["ours", "floor"]
        for name in order:
            if name == "floor":
                floor.append(timed(lambda: expired.append(floor_expiry(url))))
            else:
                ours.append(timed(lambda: expired.append(expiry.run_expiry(NOW)["events"])))
                db.remove()
            reset_due(url)
            recompute.recompute_all()
    exp = {
        "floor_s": [round(x, 3) for x in floor],
        "job_s": [round(x, 3) for x in ours],
        "rows": sorted(set(expired)),
        "ratio": round(statistics.median(ours) / statistics.median(floor), 2),
    }
    print(
        f"daily expiry of {exp['rows']} events: median {statistics.median(ours):.2f} s vs one UPDATE "
        f"{statistics.median(floor):.2f} s → {exp['ratio']}× (goal ≤ 1.5×)"
    )
    print(
        json.dumps(
            {
                "subjects": args.subjects,
                "events": events,
                "due": due,
                "load_s": round(load_s, 1),
                "recompute": rec,
                "emit": emit,
                "expiry": exp,
            }
        )
    )
    db.dispose()
    if not args.keep:
        admin = args.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
