"""Benchmark of the nightly suggestion run (精准矫正建议) on PostgreSQL, next to a floor measured in the same run.

    .venv/bin/python bench/suggestions.py [--subjects 50000] [--runs 3]
                                          [--url postgresql://postgres@127.0.0.1:5432/postgres]

A database of its own is created (dropped afterwards unless --keep), migrated and loaded with COPY:
``--subjects`` subjects in correction, each with a score row and a dated score history (a first score a
year ago, then one change per recent event), about six ledger events in the last 60 days (missed
check-ins among them), half a field report (some on unemployment or family conflict) and three online
education sessions this month, and the level history (a span each; one subject in a hundred changed
level on the 10th). The run is evaluated as of the 21st of the month (so the education
trigger, which starts on the 20th, takes part) and every default trigger fires for some subjects.

Measured, interleaved so that load on the machine hits both alike:

- ``engine.evaluate(now)`` on an empty suggestions table (it writes every suggestion, one audit
  row, the officers' notifications, and commits); the suggestions are deleted again after each run;
- the floor: the least any implementation must do, one statement per signal with its rows fetched
  (missed check-ins per subject, net score change per subject, grade falls, green subjects with their
  history, the report categories, the education sessions of the month) plus one INSERT … SELECT of as
  many suggestions as the run wrote, rationales of the run's shape and size, into the real
  ``suggestions`` table (emptied first), committed. Writing there, not into a temporary table, is part
  of the job no implementation can skip: the row and its WAL, the seven indexes (the partial unique
  one the idempotence rests on among them) and the foreign-key checks (four per row) cost about as much
  as the rest of the floor together (48,697 rows: about 1.4 s, against 0.1 s into an unindexed
  temporary table); a floor without them would hold the run to less than its work;
- a second evaluate on the filled table (nothing new to write: what a rerun costs).

Goals: the full run under 60 s for 50,000 subjects, and within 2× the floor (issue 20). Prints a line per
figure and a JSON line.
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
from zoneinfo import ZoneInfo

import psycopg
from pgload import copy_rows, fresh_database, ts  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SH = ZoneInfo("Asia/Shanghai")
_today = datetime.now(SH)
#: the evaluation time: 09:00 on the 21st of this month, Shanghai
NOW = datetime(_today.year, _today.month, 21, 9, 0, tzinfo=SH).astimezone(UTC)
BANDS = [(800, "excellent"), (750, "good"), (700, "fair"), (650, "poor"), (0, "severe")]
RECENT = [
    ("CHECKIN_ONTIME", 1, 60),
    ("CHECKIN_MISSED", -5, 7),
    ("GRID_POSITIVE", 2, 10),
    ("GRID_NEGATIVE", -5, 4),
    ("GEOFENCE_BREACH", -20, 2),
    ("SERVICE_HOUR", 1, 17),
]
CATEGORIES = [["new_job"], ["helping_others", "volunteering"], ["unemployment"], ["family_conflict"], ["drinking"]]


def grade(total: int) -> str:
    return next(code for lo, code in BANDS if total >= lo)


C = str.split  # column lists, written as one string each
USER_COLS = C("id username role display_name active failed_logins token_version created_at")
SUBJECT_COLS = C(
    "id user_id name gender id_number_enc id_number_hash correction_type start_date end_date supervision_level "
    "risk_level office_id grid_id officer_id status created_at"
)
EVENT_COLS = C(
    "id subject_id dimension points requested_points rule_code rule_version source_kind source_id quantity "
    "occurred_at month expires_at status created_at"
)
CHANGE_COLS = C(
    "id subject_id at cause ref rule_version total_before total_after grade_before grade_after base_pending details"
)
SCORE_COLS = C(
    "subject_id rule_version provincial_score public_base base_pending total grade updated_at sum_risk "
    "sum_employment sum_behaviour sum_compliance sum_public_welfare sum_education risk employment behaviour "
    "compliance public_welfare education management frozen"
)
REPORT_COLS = C(
    "id subject_id reporter_id office_id grid_id text tags observed_at upload_ids classification "
    "dictionary_version polarity categories status created_at"
)
SESSION_COLS = C(
    "id subject_id office_id mode course status started_at ended_at last_heartbeat_at heartbeats intervals "
    "credited_seconds created_at"
)
OFFICES = 20


def office_of(sid: int) -> tuple[int, int, int]:
    """(office, grid, officer) of a subject: spread over the offices."""
    o = sid % OFFICES
    return 10 + 2 * o, 11 + 2 * o, 1 + o


def load_people(cur, subjects: int, rng: random.Random) -> None:
    units = [(1, None, "province", "浙江省", "B-P", "/1/"), (2, 1, "city", "杭州市", "B-C", "/1/2/")]
    units.append((3, 2, "district", "富阳区", "B-D", "/1/2/3/"))
    for o in range(OFFICES):
        oid, gid = 10 + 2 * o, 11 + 2 * o
        units.append((oid, 3, "office", f"司法所{o}", f"B-O{o}", f"/1/2/3/{oid}/"))
        units.append((gid, oid, "grid", f"网格{o}", f"B-G{o}", f"/1/2/3/{oid}/{gid}/"))
    copy_rows(cur, "org_units", C("id parent_id level name code path created_at"), [(*u, NOW) for u in units])
    officers = [(o + 1, f"officer{o}", "officer", "警官", True, 0, 1, NOW) for o in range(OFFICES)]
    copy_rows(cur, "users", USER_COLS, officers)
    copy_rows(cur, "user_units", C("user_id org_unit_id"), [(o + 1, 10 + 2 * o) for o in range(OFFICES)])
    people = ((1000 + i, f"s{i}", "subject", f"对象{i}", True, 0, 1, NOW) for i in range(1, subjects + 1))
    copy_rows(cur, "users", USER_COLS, people)
    levels = ["strict", "normal", "normal", "lenient"]
    rows = (
        (
            i,
            1000 + i,
            f"对象{i}",
            "male",
            "x",
            hashlib.sha256(str(i).encode()).hexdigest(),
            "probation",
            date(2025, 1, 1),
            date(2028, 12, 31),
            rng.choice(levels),
            "medium",
            *office_of(i),
            "in_correction",
            NOW,
        )
        for i in range(1, subjects + 1)
    )
    rows = list(rows)
    copy_rows(cur, "subjects", SUBJECT_COLS, rows)
    # the level history, as migration 0014 leaves it: a span from the start date for everyone, and for one
    # subject in a hundred a change of level on the 10th of this month (the education requirement prorates)
    changed_on = NOW.astimezone(SH).date().replace(day=10)
    spans = []
    for row in rows:
        i, level = row[0], row[9]
        if i % 100 == 0:
            before = "normal" if level == "strict" else "strict"
            spans.append((i, before, date(2025, 1, 1), changed_on, NOW, "backfill"))
            spans.append((i, level, changed_on, None, NOW, "update"))
        else:
            spans.append((i, level, date(2025, 1, 1), None, NOW, "backfill"))
    copy_rows(cur, "supervision_level_history", C("subject_id level valid_from valid_to changed_at source"), spans)


def history(sid: int, rng: random.Random, ids: dict, out: dict) -> None:
    """A first score a year ago, then one ledger event and one dated change per recent event."""
    total, pending = rng.randint(620, 960), rng.random() < 0.1
    ids["c"] += 1
    first = NOW - timedelta(days=400)
    out["changes"].append(
        (ids["c"], sid, ts(first), "initial", None, 1, None, total, None, grade(total), pending, "{}")
    )
    for _ in range(rng.randint(3, 9)):
        code, pts, _weight = rng.choices(RECENT, [r[2] for r in RECENT])[0]
        at = NOW - timedelta(seconds=rng.randrange(60 * 86400))
        ids["e"] += 1
        ids["c"] += 1
        month = at.astimezone(SH).strftime("%Y-%m")
        out["events"].append(
            (
                ids["e"],
                sid,
                "compliance",
                pts,
                pts,
                code,
                1,
                "bench",
                str(ids["e"]),
                1,
                ts(at),
                month,
                None,
                "active",
                NOW,
            )
        )
        before, total = total, max(0, min(1000, total + pts))
        change = (ids["c"], sid, ts(at), "event", f"event:{ids['e']}", 1, before, total, grade(before), grade(total))
        out["changes"].append((*change, pending, "{}"))
    sums = (0,) * 6
    dims = (70, 85, 85, 85, 85, 85, 495, False)
    out["scores"].append((sid, 1, None if pending else 700, 280, pending, total, grade(total), NOW, *sums, *dims))


def activity(sid: int, rng: random.Random, ids: dict, out: dict) -> None:
    """Half a field report in the last 45 days, three online education sessions this month."""
    office, grid, _officer = office_of(sid)
    if rng.random() < 0.5:
        ids["r"] += 1
        at = NOW - timedelta(seconds=rng.randrange(45 * 86400))
        cats = json.dumps(rng.choice(CATEGORIES))
        out["reports"].append(
            (ids["r"], sid, 1, office, grid, "…", "[]", ts(at), "[]", "{}", 1, "need", cats, "recorded", NOW)
        )
    month_start = NOW.astimezone(SH).replace(day=1, hour=0)
    for d in range(3):
        ids["x"] += 1
        start = month_start + timedelta(days=1 + 6 * d, hours=9)
        end = start + timedelta(minutes=rng.randint(30, 130))
        spans = json.dumps([[start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()]])
        seconds = int((end - start).total_seconds())
        out["sessions"].append(
            (
                ids["x"],
                sid,
                office,
                "online",
                "法治课",
                "ended",
                ts(start),
                ts(end),
                ts(end),
                seconds // 60,
                spans,
                seconds,
                NOW,
            )
        )


def load(conn, subjects: int, rng: random.Random) -> dict:
    cur = conn.cursor()
    load_people(cur, subjects, rng)
    ids = {"e": 0, "c": 0, "r": 0, "x": 0}
    out: dict[str, list] = {"events": [], "changes": [], "scores": [], "reports": [], "sessions": []}
    for sid in range(1, subjects + 1):
        history(sid, rng, ids, out)
        activity(sid, rng, ids, out)
    copy_rows(cur, "score_events", EVENT_COLS, out["events"])
    copy_rows(cur, "score_changes", CHANGE_COLS, out["changes"])
    copy_rows(cur, "subject_scores", SCORE_COLS, out["scores"])
    copy_rows(cur, "field_reports", REPORT_COLS, out["reports"])
    copy_rows(cur, "education_sessions", SESSION_COLS, out["sessions"])
    tables = ("org_units", "users", "subjects", "score_events", "score_changes", "field_reports")
    for table in (*tables, "supervision_level_history"):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    cur.execute("SELECT setval(pg_get_serial_sequence('education_sessions', 'id'), %s)", (ids["x"],))
    return {k: len(v) for k, v in out.items()}


FLOOR_SQL = [
    (
        "SELECT subject_id, count(*) FROM score_events WHERE rule_code = 'CHECKIN_MISSED' AND occurred_at >= %(d30)s "
        "AND status <> 'revoked' GROUP BY subject_id HAVING count(*) >= 2"
    ),
    (
        "SELECT subject_id, sum(total_after - coalesce(total_before, total_after)) FROM score_changes "
        "WHERE at >= %(d30)s GROUP BY subject_id"
    ),
    (
        "SELECT c.subject_id, c.id FROM score_changes c JOIN subject_scores s ON s.subject_id = c.subject_id "
        "WHERE c.at >= %(d30)s AND c.grade_after IN ('poor', 'severe') AND s.grade IN ('poor', 'severe')"
    ),
    (
        "SELECT s.subject_id FROM subject_scores s WHERE s.grade = 'excellent' AND NOT EXISTS (SELECT 1 FROM "
        "score_changes c WHERE c.subject_id = s.subject_id AND c.at > %(d183)s AND c.grade_after <> 'excellent')"
    ),
    "SELECT subject_id, id, categories FROM field_reports WHERE observed_at >= %(d30)s",
    "SELECT subject_id, intervals FROM education_sessions WHERE started_at >= %(month)s",
]


#: the floor's rows: as many as the run wrote, spread over the subjects (a kind per pass over them), each
#: with a rationale of the run's shape and size (a summary, one evidence row, the facts, the trigger)
FLOOR_INSERT = """INSERT INTO suggestions (subject_id, kind, category, priority, title, rationale, trigger_version,
    officer_id, office_id, status, due_at, created_at)
SELECT s.id, 'floor_' || k, 'education', 'medium', '本月学习进度不足一半,建议督促学习',
    json_build_object(
        'summary', '2026-11已学习' || mod(s.id, 10) || '.0小时,要求8.0小时',
        'evidence', json_build_array(json_build_object('kind', 'education_month', 'id', s.id || ':2026-11',
            'month', '2026-11', 'done_minutes', mod(s.id, 600), 'required_minutes', 480, 'as_of', '2026-11-21')),
        'facts', json_build_object('month', '2026-11', 'done_minutes', mod(s.id, 600), 'required_minutes', 480,
            'as_of', '2026-11-21'),
        'trigger', json_build_object('code', 'education_shortfall', 'kind', 'education_progress', 'version', 1,
            'params', json_build_object('max_ratio', 0.5, 'from_day', 20))),
    1, s.officer_id, s.office_id, 'open', now() + interval '7 days', now()
FROM generate_series(0, %(rows)s - 1) AS g(i) JOIN subjects s ON s.id = 1 + mod(i, %(subjects)s)
CROSS JOIN LATERAL (SELECT i / %(subjects)s AS k) AS kind
ORDER BY s.id ON CONFLICT DO NOTHING RETURNING id, officer_id"""


def floor(url: str, rows: int, subjects: int) -> None:
    """The least any implementation must do: read each signal once, write ``rows`` suggestions, commit."""
    params = {
        "d30": NOW - timedelta(days=30),
        "d183": NOW - timedelta(days=183),
        "month": NOW.astimezone(SH).replace(day=1, hour=0),
    }
    with psycopg.connect(url) as conn:
        conn.execute("SET jit = off")  # as the run does
        for sql in FLOOR_SQL:
            conn.execute(sql, params).fetchall()
        conn.execute(FLOOR_INSERT, {"rows": rows, "subjects": subjects}).fetchall()
        conn.commit()


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--database", default="zhijiao_bench_suggestions")
    ap.add_argument("--subjects", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13")
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

    env = {
        "ZHIJIAO_ENV": "test",
        "DATABASE_URL": sa_url,
        "REDIS_URL": args.redis,
        "INSTANCE_DIR": tempfile.mkdtemp(prefix="zj-bench-"),
        "LOG_LEVEL": "WARNING",
    }
    runtime.configure(load_settings(env))
    upgrade(sa_url)
    db.init(sa_url)
    import backend.registry  # noqa: F401 - every outbox handler, as in a worker
    from backend.services.suggestions import engine

    t0 = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")  # no FK triggers row by row while loading
        sizes = load(conn, args.subjects, rng)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"loaded {args.subjects} subjects, {json.dumps(sizes)} with COPY in {time.perf_counter() - t0:.1f} s")

    def clear() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DELETE FROM suggestions")
            conn.execute("DELETE FROM notifications")
            conn.execute("DELETE FROM outbox")
            conn.execute("VACUUM ANALYZE suggestions")

    ours, floors, reruns, created = [], [], [], {}
    for run in range(args.runs):
        clear()
        t = time.perf_counter()
        result = engine.evaluate(NOW)
        ours.append(time.perf_counter() - t)
        db.remove()
        created = result
        reruns.append(timed(lambda: engine.evaluate(NOW)))
        db.remove()
        clear()  # the floor writes into the same, empty table
        floors.append(timed(lambda n=result["created"]: floor(url, n, args.subjects)))
        print(
            f"run {run + 1}: evaluate {ours[-1]:.2f} s ({result['created']} suggestions), floor {floors[-1]:.2f} s, "
            f"rerun {reruns[-1]:.2f} s"
        )
    out = {
        "subjects": args.subjects,
        "data": sizes,
        "created": created["created"],
        "per_trigger": created["per_trigger"],
        "evaluate_s": [round(x, 2) for x in ours],
        "floor_s": [round(x, 2) for x in floors],
        "rerun_s": [round(x, 2) for x in reruns],
        "ratio": round(statistics.median(ours) / statistics.median(floors), 2),
    }
    print(
        f"nightly suggestions over {args.subjects} subjects: median {statistics.median(ours):.2f} s "
        f"(goal < 60 s), floor {statistics.median(floors):.2f} s → {out['ratio']}×; "
        f"rerun with nothing new {statistics.median(reruns):.2f} s"
    )
    print(json.dumps(out, ensure_ascii=False))
    db.dispose()
    if not args.keep:
        admin = args.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
