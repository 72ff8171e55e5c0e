"""Benchmark of the staff screens at district scale (issue 20, part 1), each next to its floor in the same run.

    .venv/bin/python bench/staff_reads.py [--subjects 5000] [--seconds 60] [--users 20] [--dashboard-cache 60]
                                         [--warmup 30] [--url postgresql://postgres@127.0.0.1:5432/postgres]

Load: a database of its own, migrated and loaded with COPY: a district of ``--subjects`` subjects in 10
offices, 18 officers (two in most offices) and 2 bureau users, and a year of history at the rates a district
sees: a check-in a week each (its photo, its event and its dated score change), about ten other ledger events
a subject (misses, grid reports, service, breaches), warnings (a few open), requests (a few pending, some
overdue), suggestions (a few open), field reports and three education sessions a month. Scores are then
recomputed from the ledger, as in steady state.

Measured: ``zhijiao``'s app under gunicorn (2 workers, as ``checkin_load.py`` runs it) plus bench-only
floor routes. ``--users`` staff users each open a screen every 2 s (an open loop: the requests leave on
time whatever the answers take) for ``--seconds``, in alternating slices of real screens and floors so
that the machine's drift hits both alike. The screens: the inbox, the dashboard, the subject list (filtered
by office and grade, and searched by name), warnings, suggestions, a subject's profile and its score
history. The measure starts after ``--warmup`` seconds (30) of the same load after the workers start: in them
each worker builds each role's inbox statements and counts the dashboard's offices for the first time (the
warm-up's p99 per screen is printed apart, as the cold start's). Each screen's floor is an endpoint that
authenticates the same way and runs the one SQL statement that returns the same rows (the page of 20, or the
few aggregates), and serialises them as JSON.
Goal: p99 ≤ 50 ms for every screen, and each screen's p50 within 2× of its floor's.

The dashboard runs as in production: each office's figures are reused for ``--dashboard-cache`` seconds
(DASHBOARD_CACHE_SECONDS, the production default 60; the answer's ``as_of`` says when they were counted;
0 counts every request afresh), while its floor counts afresh every time.

The CSV export of every subject (the bureau's, 5,000 rows) is measured apart: rows a second, and the
serving worker's resident memory sampled while it streams (flat: it does not grow with the rows).

Prints a line per screen (p50, p99, floor p50, ratio) and one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from checkin_load import _drop, _wait_up, configure  # noqa: E402 - bench/ on the path first
from pgload import copy_rows, fresh_database  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime.now(UTC).replace(microsecond=0)
OFFICES = 10
OFFICERS = 18
BUREAU = (19, 20)
HOME = (30.05, 119.96)
AREA = {"type": "Point", "coordinates": [HOME[1], HOME[0]], "radius_m": 20000}
C = str.split


def office_unit(o: int) -> int:
    return 10 + 2 * o


def officer_office(uid: int) -> int:
    return (uid - 1) % OFFICES


def subject_office(sid: int) -> int:
    return sid % OFFICES


def subject_officer(sid: int) -> int:
    o = subject_office(sid)
    second = o + OFFICES + 1
    return second if second <= OFFICERS and sid % 2 else o + 1


# --- data ---------------------------------------------------------------------------------------------------


def load_people(cur, n: int, rng: random.Random) -> None:
    units = [(1, None, "province", "浙江省", "B-P", "/1/", None), (2, 1, "city", "杭州市", "B-C", "/1/2/", None)]
    units.append((3, 2, "district", "富阳区", "B-D", "/1/2/3/", json.dumps(AREA)))
    for o in range(OFFICES):
        oid, gid = office_unit(o), office_unit(o) + 1
        units.append((oid, 3, "office", f"司法所{o}", f"B-O{o}", f"/1/2/3/{oid}/", None))
        units.append((gid, oid, "grid", f"网格{o}", f"B-G{o}", f"/1/2/3/{oid}/{gid}/", None))
    copy_rows(cur, "org_units", C("id parent_id level name code path area created_at"), [(*u, NOW) for u in units])
    user_cols = C("id username role display_name active failed_logins token_version created_at")
    staff = [(u, f"officer{u}", "officer", f"警官{u}", True, 0, 1, NOW) for u in range(1, OFFICERS + 1)]
    staff += [(u, f"bureau{u}", "bureau", f"局{u}", True, 0, 1, NOW) for u in BUREAU]
    copy_rows(cur, "users", user_cols, staff)
    links = [(u, office_unit(officer_office(u))) for u in range(1, OFFICERS + 1)] + [(u, 3) for u in BUREAU]
    copy_rows(cur, "user_units", C("user_id org_unit_id"), links)
    copy_rows(
        cur, "users", user_cols, ((1000 + i, f"s{i}", "subject", f"对象{i}", True, 0, 1, NOW) for i in range(1, n + 1))
    )
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    cols = C(
        "id user_id name gender id_number_enc id_number_hash correction_type start_date end_date supervision_level "
        "risk_level office_id grid_id officer_id status created_at"
    )
    levels = ["strict", "normal", "normal", "lenient"]
    from backend.services.core import crypto
    from backend.services.subjects import idcard

    # encrypted as enrolment stores them (a hundred distinct ones: Fernet takes a while per value)
    sealed = [crypto.encrypt(idcard.make("330183", date(1970, 1, 1) + timedelta(days=k * 97), k)) for k in range(100)]
    rows = (
        (i, 1000 + i, f"{surnames[i % len(surnames)]}对象{i}", "male", sealed[i % len(sealed)])
        + (hashlib.sha256(str(i).encode()).hexdigest(),)
        + ("probation", (NOW - timedelta(days=400 + i % 200)).date(), (NOW + timedelta(days=300 + i % 300)).date())
        + (rng.choice(levels), "medium", office_unit(subject_office(i)), office_unit(subject_office(i)) + 1)
        + (subject_officer(i), "in_correction", NOW - timedelta(days=400))
        for i in range(1, n + 1)
    )
    copy_rows(cur, "subjects", cols, rows)


OTHER_EVENTS = [  # (rule, points, weight)
    ("CHECKIN_MISSED", -5, 6),
    ("GRID_POSITIVE", 2, 10),
    ("GRID_NEGATIVE", -5, 3),
    ("GEOFENCE_BREACH", -20, 1),
    ("SERVICE_HOUR", 1, 20),
    ("EDU_MONTH_MET", 1, 12),
]
WARNING_KINDS = ["CHECKIN_MISSED", "GEOFENCE_BREACH", "GRID_NEGATIVE", "LEAVE_OVERDUE", "SCORE_DROP"]
SUGGESTION_KINDS = [("missed_checkins", "supervision"), ("score_drop", "education"), ("employment_help", "assistance")]


def load_history(conn, n: int, rng: random.Random) -> dict:
    """A year of each subject's activity (see the module docstring); returns the row counts."""
    cur = conn.cursor()
    ids = dict.fromkeys(("u", "c", "e", "x", "w", "r", "g", "f", "s"), 0)
    counts = dict.fromkeys(("checkins", "events", "warnings", "requests", "suggestions", "reports", "sessions"), 0)
    up_cols = C(
        "id owner_id subject_id purpose status declared_type size_bytes sha256 storage_key upload_expires_at "
        "created_at completed_at checked_at format facts reasons derivatives retention_hold record_type record_id "
        "attached_at"
    )
    ci_cols = C(
        "id subject_id client_id kind upload_id latitude longitude accuracy_m captured_at received_at offline status "
        "counted_at time_basis outcome interval_days period_end period_due_at event_id"
    )
    ev_cols = C(
        "id subject_id dimension points requested_points rule_code rule_version source_kind source_id quantity "
        "occurred_at month expires_at status created_at"
    )
    ch_cols = C(
        "id subject_id at cause ref rule_version total_before total_after grade_before grade_after base_pending details"
    )
    facts = json.dumps({"make": "Xiaomi", "model": "K40"})
    uploads, checkins, events, changes = [], [], [], []
    totals = {}

    def event(sid: int, rule: str, pts: int, at: datetime, dim: str = "compliance") -> int:
        ids["e"] += 1
        ids["x"] += 1
        month = at.astimezone(SH).strftime("%Y-%m")
        events.append(
            (ids["e"], sid, dim, pts, pts, rule, 1, "bench", str(ids["e"]), 1, at, month, at + timedelta(days=365))
            + ("active", at)
        )
        before = totals.get(sid, 700)
        after = totals[sid] = max(0, min(1000, before + pts))
        changes.append((ids["x"], sid, at, "event", f"event:{ids['e']}", 1, before, after, None, "fair", False, "{}"))
        return ids["e"]

    def flush() -> None:
        copy_rows(cur, "uploads", up_cols, uploads)
        copy_rows(cur, "checkins", ci_cols, checkins)
        copy_rows(cur, "score_events", ev_cols, events)
        copy_rows(cur, "score_changes", ch_cols, changes)
        counts["checkins"] += len(checkins)
        counts["events"] += len(events)
        for rows in (uploads, checkins, events, changes):
            rows.clear()

    for sid in range(1, n + 1):
        for week in range(52):
            at = NOW - timedelta(days=7 * (52 - week), hours=rng.randint(1, 10))
            if rng.random() < 0.05:
                continue  # missed: its event comes with the others
            ids["u"] += 1
            ids["c"] += 1
            uploads.append(
                (ids["u"], 1000 + sid, sid, "checkin", "accepted", "image/jpeg", 2_000_000, "0" * 64, f"o/{ids['u']}")
                + (at, at, at, at, "JPEG", facts, "[]", "{}", False, "checkin", str(ids["c"]), at)
            )
            eid = event(sid, "CHECKIN_ONTIME", 1, at)
            due = at.replace(hour=15, minute=0, second=0)
            checkins.append(
                (ids["c"], sid, f"c{ids['c']}", "checkin", ids["u"], *HOME, 12.0, at, at, False, "counted", at)
                + ("received", "on_time", 7, at.astimezone(SH).date(), due, eid)
            )
        for _ in range(rng.randint(6, 14)):
            rule, pts, _w = rng.choices(OTHER_EVENTS, [e[2] for e in OTHER_EVENTS])[0]
            event(sid, rule, pts, NOW - timedelta(seconds=rng.randrange(365 * 86400)))
        if len(checkins) > 50_000:
            flush()
    flush()
    changes_sorted = "UPDATE score_changes SET grade_after = 'fair'"  # grades are recomputed below
    cur.execute(changes_sorted)

    office = lambda sid: office_unit(subject_office(sid))  # noqa: E731
    w_cols = C(
        "id subject_id kind severity status period_key title details evidence officer_id office_id due_at created_at "
        "handled_at handled_by outcome"
    )
    r_cols = C(
        "id subject_id office_id type destination reason business start_date end_date days counts_toward_limit route "
        "status decider_role due_at auto_approved decided_by decided_at created_at"
    )
    g_cols = C(
        "id subject_id kind category priority title rationale trigger_version officer_id office_id status due_at "
        "created_at closed_at decided_by outcome"
    )
    f_cols = C(
        "id subject_id reporter_id office_id grid_id text tags observed_at upload_ids classification "
        "dictionary_version polarity categories status created_at"
    )
    s_cols = C(
        "id subject_id office_id mode course status started_at ended_at last_heartbeat_at heartbeats intervals "
        "credited_seconds created_at"
    )
    warnings, requests, suggestions, reports, sessions = [], [], [], [], []
    for sid in range(1, n + 1):
        officer = subject_officer(sid)
        for _ in range(rng.randint(3, 8)):
            ids["w"] += 1
            at = NOW - timedelta(seconds=rng.randrange(365 * 86400))
            open_ = rng.random() < 0.04
            kind = rng.choice(WARNING_KINDS)
            warnings.append(
                (ids["w"], sid, kind, rng.choice(["low", "medium", "high"]), "open" if open_ else "handled")
                + (f"b{ids['w']}", f"预警 {kind}", "{}", "[]", officer, office(sid), at + timedelta(days=2), at)
                + ((None, None, None) if open_ else (at + timedelta(days=1), officer, "talked"))
            )
        for _ in range(rng.randint(2, 6)):
            ids["r"] += 1
            start = (NOW - timedelta(days=rng.randrange(-20, 360))).astimezone(SH).date()
            days = rng.randint(1, 10)
            at = datetime.combine(start - timedelta(days=5), datetime.min.time(), UTC)
            pending = start > NOW.date() and rng.random() < 0.3
            status = "pending" if pending else "completed"
            requests.append(
                (
                    ids["r"],
                    sid,
                    office(sid),
                    "leave",
                    "杭州市西湖区",
                    "探亲",
                    False,
                    start,
                    start + timedelta(days=days - 1),
                )
                + (days, True, "officer", status, "officer", at + timedelta(days=3), False)
                + ((None, None) if pending else (officer, at + timedelta(days=1)))
                + (at,)
            )
        live: set[str] = set()  # one live suggestion of a kind per subject
        for _ in range(rng.randint(2, 6)):
            ids["g"] += 1
            at = NOW - timedelta(seconds=rng.randrange(365 * 86400))
            kind, cat = rng.choice(SUGGESTION_KINDS)
            open_ = rng.random() < 0.05 and kind not in live
            live.add(kind) if open_ else None
            rationale = json.dumps({"summary": "近30天漏打卡2次", "evidence": [{"kind": "event", "id": 1}]})
            suggestions.append(
                (ids["g"], sid, kind, cat, "medium", "建议加强走访", rationale, 1, officer, office(sid))
                + ("open" if open_ else "done", at + timedelta(days=7), at)
                + ((None, None, None) if open_ else (at + timedelta(days=5), officer, "improved"))
            )
        for _ in range(rng.randint(3, 9)):
            ids["f"] += 1
            at = NOW - timedelta(seconds=rng.randrange(365 * 86400))
            reports.append(
                (ids["f"], sid, 1, office(sid), office(sid) + 1, "走访正常", "[]", at, "[]", "{}", 1, "neutral", "[]")
                + ("recorded", at)
            )
        for month in range(12):
            for d in range(3):
                ids["s"] += 1
                start = NOW - timedelta(days=30 * month + 6 * d + 1)
                end = start + timedelta(minutes=rng.randint(30, 130))
                spans = json.dumps([[start.isoformat(), end.isoformat()]])
                secs = int((end - start).total_seconds())
                sessions.append(
                    (ids["s"], sid, office(sid), "online", "法治课", "ended", start, end, end, secs // 60, spans, secs)
                    + (start,)
                )
    counts |= {"warnings": len(warnings), "requests": len(requests), "suggestions": len(suggestions)}
    counts |= {"reports": len(reports), "sessions": len(sessions)}
    copy_rows(cur, "warnings", w_cols, warnings)
    copy_rows(cur, "subject_requests", r_cols, requests)
    copy_rows(cur, "suggestions", g_cols, suggestions)
    copy_rows(cur, "field_reports", f_cols, reports)
    copy_rows(cur, "education_sessions", s_cols, sessions)
    for table in ("org_units", "users", "subjects", "uploads", "checkins", "score_events", "score_changes") + (
        "warnings",
        "subject_requests",
        "suggestions",
        "field_reports",
        "education_sessions",
    ):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    return counts


def staff_tokens(url: str) -> dict[int, str]:
    """An access token per staff user, each naming a live login (its refresh-token family row)."""
    from backend.services.identity.tokens import issue_access

    users = {u: "officer" for u in range(1, OFFICERS + 1)} | dict.fromkeys(BUREAU, "bureau")
    families = {u: str(uuid.uuid4()) for u in users}
    sql = "COPY refresh_tokens (user_id, family_id, token_hash, created_at, expires_at) FROM STDIN"
    with psycopg.connect(url) as conn, conn.cursor().copy(sql) as copy:
        for u, fam in families.items():
            copy.write_row((u, fam, hashlib.sha256(fam.encode()).hexdigest(), NOW, NOW + timedelta(days=30)))
    return {u: issue_access(u, role, 1, families[u])[0] for u, role in users.items()}


# --- the app and its floors ---------------------------------------------------------------------------------

#: each screen's floor: the one statement that returns the same rows (a page of 20, or the aggregates)
FLOORS = {
    # the ten kinds of work item of ``oversight.providers``, each of an in-correction subject of the caller's
    # offices, routed by role (officer: the officer's items; bureau: the bureau's and every overdue one),
    # overdue first, a page of 20 with the number of matching items, and the names joined to the page
    "inbox": """
        WITH items AS (
          SELECT 'request' AS kind, r.id, r.subject_id, s.office_id, r.decider_role AS decider, r.due_at,
                 r.created_at, r.type AS subtype, r.destination AS title
            FROM subject_requests r JOIN subjects s ON s.id = r.subject_id AND s.status = 'in_correction'
           WHERE r.status IN ('pending', 'recommended') AND r.decider_role IS NOT NULL
          UNION ALL
          SELECT 'service_verification', v.id, v.subject_id, s.office_id, 'officer', v.due_at, v.created_at,
                 v.source, v.activity_type
            FROM service_reports v JOIN subjects s ON s.id = v.subject_id AND s.status = 'in_correction'
           WHERE v.status = 'pending'
          UNION ALL
          SELECT 'education_verification', e.id, e.subject_id, s.office_id, 'officer', e.due_at, e.created_at,
                 e.mode, e.course
            FROM education_sessions e JOIN subjects s ON s.id = e.subject_id AND s.status = 'in_correction'
           WHERE e.mode <> 'online' AND e.status = 'pending'
          UNION ALL
          SELECT 'appeal', a.id, a.subject_id, s.office_id, a.decider_role, a.due_at, a.created_at, ev.rule_code,
                 a.reason
            FROM score_appeals a JOIN subjects s ON s.id = a.subject_id AND s.status = 'in_correction'
            JOIN score_events ev ON ev.id = a.event_id
           WHERE a.status = 'pending' AND NOT (a.excluded_user_ids::jsonb @> to_jsonb(:user))
          UNION ALL
          SELECT 'merit_application', m.id, m.subject_id, s.office_id, m.decider_role, m.due_at, m.created_at,
                 m.rule_code, m.description
            FROM merit_applications m JOIN subjects s ON s.id = m.subject_id AND s.status = 'in_correction'
           WHERE m.status = 'pending'
          UNION ALL
          SELECT 'adjustment', j.id, j.subject_id, s.office_id, 'bureau', NULL, j.created_at, j.dimension, j.reason
            FROM score_adjustments j JOIN subjects s ON s.id = j.subject_id AND s.status = 'in_correction'
           WHERE j.status = 'pending'
          UNION ALL
          SELECT 'suspect_evidence', u.id, u.subject_id, s.office_id, 'officer', w.due_at, u.attached_at,
                 u.record_type, '照片证据存疑,请审核'
            FROM uploads u JOIN subjects s ON s.id = u.subject_id AND s.status = 'in_correction'
            LEFT JOIN warnings w ON w.subject_id = u.subject_id AND w.kind = 'EVIDENCE_SUSPECT'
                 AND w.period_key = 'upload:' || u.id AND w.status <> 'handled'
           WHERE u.review_status = 'open'
          UNION ALL
          SELECT 'negative_field_report', f.id, f.subject_id, s.office_id, 'officer', f.due_at, f.created_at,
                 f.severity, f.text
            FROM field_reports f JOIN subjects s ON s.id = f.subject_id AND s.status = 'in_correction'
           WHERE f.status = 'pending_review'
          UNION ALL
          SELECT 'warning', w.id, w.subject_id, s.office_id, 'officer', w.due_at, w.created_at, w.kind, w.title
            FROM warnings w JOIN subjects s ON s.id = w.subject_id AND s.status = 'in_correction'
           WHERE w.status <> 'handled' AND w.kind NOT IN ('EVIDENCE_SUSPECT', 'KEYWORD_HIGH')
          UNION ALL
          SELECT 'suggestion', g.id, g.subject_id, s.office_id, 'officer', g.due_at, g.created_at, g.kind, g.title
            FROM suggestions g JOIN subjects s ON s.id = g.subject_id AND s.status = 'in_correction'
           WHERE g.status IN ('open', 'accepted')
        ), page AS (
          SELECT i.*, count(*) OVER () AS matching FROM items i
           WHERE i.office_id = ANY(:offices)
             AND CASE :role WHEN 'officer' THEN i.decider = 'officer'
                            ELSE i.decider = 'bureau' OR i.due_at < now() END
           ORDER BY i.due_at < now() DESC, i.due_at IS NULL, i.due_at, i.created_at, i.kind, i.id LIMIT 20
        )
        SELECT p.*, s.name AS subject_name, s.id_number_enc, o.name AS office_name FROM page p
          JOIN subjects s ON s.id = p.subject_id JOIN org_units o ON o.id = p.office_id
         ORDER BY p.due_at < now() DESC, p.due_at IS NULL, p.due_at, p.created_at, p.kind, p.id""",
    "dashboard": """
        SELECT (SELECT json_agg(x) FROM (SELECT sc.grade, count(*) FROM subjects s
                  LEFT JOIN subject_scores sc ON sc.subject_id = s.id
                 WHERE s.office_id = ANY(:offices) AND s.status = 'in_correction' GROUP BY sc.grade) x) AS grades,
               (SELECT json_agg(x) FROM (SELECT (c.at AT TIME ZONE 'Asia/Shanghai')::date AS day,
                       sum(c.total_after - coalesce(c.total_before, c.total_after)) FROM score_changes c
                  JOIN subjects s ON s.id = c.subject_id
                 WHERE s.office_id = ANY(:offices) AND c.at >= now() - interval '30 days' GROUP BY 1) x) AS trend,
               (SELECT json_agg(x) FROM (SELECT w.kind, count(*) FROM warnings w
                 WHERE w.office_id = ANY(:offices) AND w.status = 'open' GROUP BY w.kind) x) AS warnings,
               (SELECT json_agg(x) FROM (SELECT g.category, g.outcome, count(*) FROM suggestions g
                 WHERE g.office_id = ANY(:offices) GROUP BY 1, 2) x) AS suggestions,
               (SELECT count(*) FROM subject_requests r WHERE r.office_id = ANY(:offices)
                   AND r.status IN ('pending', 'recommended')) AS pending""",
    "subjects": """
        SELECT s.*, sc.total, sc.grade, count(*) OVER () AS matching FROM subjects s
          LEFT JOIN subject_scores sc ON sc.subject_id = s.id
         WHERE s.office_id = ANY(:offices) AND s.status = 'in_correction' AND s.name LIKE :q
         ORDER BY s.id LIMIT 20""",
    "warnings": """
        SELECT w.*, count(*) OVER () AS matching FROM warnings w WHERE w.office_id = ANY(:offices)
           AND w.status = 'open' ORDER BY w.created_at DESC, w.id DESC LIMIT 20""",
    "suggestions": """
        SELECT g.*, count(*) OVER () AS matching FROM suggestions g WHERE g.office_id = ANY(:offices)
           AND g.status = 'open' ORDER BY g.due_at, g.id LIMIT 20""",
    "profile": """
        SELECT s.*, sc.*, (SELECT json_agg(c) FROM subject_changes c WHERE c.subject_id = s.id) AS changes
          FROM subjects s LEFT JOIN subject_scores sc ON sc.subject_id = s.id
         WHERE s.id = :subject AND s.office_id = ANY(:offices)""",
    "history": """
        SELECT c.* FROM score_changes c JOIN subjects s ON s.id = c.subject_id
         WHERE c.subject_id = :subject AND s.office_id = ANY(:offices) AND c.at >= now() - interval '90 days'
         ORDER BY c.at, c.id""",
}


def bench_app():
    """The real app plus one floor route per screen (gunicorn: ``staff_reads:bench_app()``)."""
    from flask import g, jsonify, request
    from sqlalchemy import text

    from backend.db import db
    from backend.services.identity import access
    from mobile_api import create_app
    from mobile_api.http.security import authorize

    app = create_app()
    statements = {name: text(sql) for name, sql in FLOORS.items()}

    @authorize("dashboard.read")
    def floor(screen: str):
        a = g.actor
        offices = (
            list(db.session.scalars(access.district_office_ids(a.unit_ids))) if a.role == "bureau" else list(a.unit_ids)
        )
        params = {
            "offices": offices,
            "q": f"%{request.args.get('q', '')}%",
            "subject": request.args.get("subject", 0, int),
            "role": a.role,
            "user": a.user_id,
        }
        rows = db.session.execute(statements[screen], params).mappings().all()
        return jsonify(
            [
                {k: v if isinstance(v, int | float | str | None | list | dict) else str(v) for k, v in r.items()}
                for r in rows
            ]
        )

    app.add_url_rule("/bench/floor/<screen>", "bench_floor", floor, methods=["GET"])
    return app


# --- the load -----------------------------------------------------------------------------------------------


def screens(n: int, rng: random.Random):
    """The real request and the floor request of a random screen for a user: (name, path, floor path)."""
    office = rng.randrange(OFFICES)
    sid = rng.randrange(office or OFFICES, n + 1, OFFICES)  # a subject of that office
    q = quote(f"对象{rng.randint(1, 99)}")
    return rng.choice(
        [
            ("inbox", "/api/v1/staff/inbox?page_size=20", "/bench/floor/inbox"),
            ("dashboard", "/api/v1/staff/dashboard", "/bench/floor/dashboard"),
            ("subjects", f"/api/v1/staff/subjects?page_size=20&q={q}", f"/bench/floor/subjects?q={q}"),
            ("warnings", "/api/v1/staff/warnings?status=open&page_size=20", "/bench/floor/warnings"),
            ("suggestions", "/api/v1/staff/suggestions?status=open&page_size=20", "/bench/floor/suggestions"),
            ("profile", f"/api/v1/staff/subjects/{sid}", f"/bench/floor/profile?subject={sid}"),
            ("history", f"/api/v1/staff/subjects/{sid}/score/history", f"/bench/floor/history?subject={sid}"),
        ]
    ), office


def user_for(office: int, tokens: dict[int, str], rng: random.Random) -> int:
    """An officer of ``office`` (a profile read needs the subject's office), or a bureau user now and then."""
    if rng.random() < 0.2:
        return rng.choice(BUREAU)
    return office + 1


def run_load(port: int, tokens: dict[int, str], n: int, users: int, seconds: float, floors: bool, seed: int) -> list:
    """``users`` users each opening a screen every 2 s for ``seconds``: [(screen, latency s, status)]."""
    out: list = []
    start = time.perf_counter()

    def user(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        t_next = start + rng.random() * 2
        while t_next < start + seconds:
            time.sleep(max(0.0, t_next - time.perf_counter()))
            (name, real, floor), office = screens(n, rng)
            uid = user_for(office, tokens, rng)
            path = floor if floors else real
            t = time.perf_counter()
            status = 0
            for _attempt in range(2):  # a kept-alive connection the server closed meanwhile: reconnect once
                try:
                    conn.request("GET", path, headers={"Authorization": f"Bearer {tokens[uid]}"})
                    resp = conn.getresponse()
                    resp.read()
                    status = resp.status
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            out.append((name, time.perf_counter() - t, status))
            t_next += 2.0
        conn.close()

    threads = [threading.Thread(target=user, args=(k,)) for k in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(1000 * values[min(len(values) - 1, int(len(values) * p))], 1)


def export_csv(port: int, token: str, pid: int) -> dict:
    """The bureau's CSV of every subject: rows a second, and the server's memory sampled while it streams."""

    def rss() -> int:
        total = 0
        for child in [pid, *children(pid)]:
            try:
                for line in Path(f"/proc/{child}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total

    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(rss())
            time.sleep(0.02)

    before = rss()
    threading.Thread(target=sample, daemon=True).start()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t = time.perf_counter()
    conn.request("GET", "/api/v1/staff/subjects", headers={"Authorization": f"Bearer {token}", "Accept": "text/csv"})
    resp = conn.getresponse()
    rows = 0
    while chunk := resp.read(65536):
        rows += chunk.count(b"\n")
    elapsed = time.perf_counter() - t
    done.set()
    rows -= 1  # the header
    return {
        "status": resp.status,
        "rows": rows,
        "seconds": round(elapsed, 3),
        "rows_per_s": round(rows / elapsed),
        "rss_before_kb": before,
        "rss_peak_kb": max(samples or [before]),
        "rss_growth_kb": max(samples or [before]) - before,
    }


def children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    return [int(x) for x in out.split()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--database", default="zhijiao_bench_staff")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    ap.add_argument("--subjects", type=int, default=5000)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60, help="for the screens and again for the floors")
    ap.add_argument("--slice", type=float, default=10, help="screens and floors alternate in slices this long")
    ap.add_argument(
        "--warmup", type=float, default=30, help="seconds of the same load, unmeasured, after the workers start"
    )
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument(
        "--dashboard-cache", type=int, default=60, help="DASHBOARD_CACHE_SECONDS of the app (0: count every request)"
    )
    args = ap.parse_args()
    url = fresh_database(args.url.replace("postgresql+psycopg://", "postgresql://"), args.database)
    env = configure(url, args.redis, tempfile.mkdtemp(prefix="zj-bench-staff-"), f"benchs{os.getpid()}-")
    rng = random.Random(20)
    t = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")
        load_people(conn.cursor(), args.subjects, rng)
        counts = load_history(conn, args.subjects, rng)
        conn.commit()
    from backend.services.scoring import recompute

    recompute.recompute_all()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    load_s = round(time.perf_counter() - t, 1)
    print(json.dumps({"loaded": counts, "seconds": load_s}), flush=True)
    tokens = staff_tokens(url)
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "mobile_api/gunicorn_conf.py", "--pythonpath", "bench"]
        + ["staff_reads:bench_app()"],
        cwd=ROOT,
        env={**os.environ, **env, "WEB_CONCURRENCY": "2", "PORT": str(args.port), "HOST": "127.0.0.1"}
        | {"DASHBOARD_CACHE_SECONDS": str(args.dashboard_cache)},
    )
    try:
        _wait_up(args.port)
        # warm-up, the same load unmeasured: in it each worker builds each role's inbox statements and counts
        # the dashboard's offices for the first time; its p99 is reported apart as the cold start's
        cold = run_load(args.port, tokens, args.subjects, args.users, args.warmup, False, 0)
        run_load(args.port, tokens, args.subjects, args.users, min(args.warmup, 4), True, 0)
        real: list = []
        floor: list = []
        slices = max(1, round(args.seconds / args.slice))
        for k in range(slices):
            real += run_load(args.port, tokens, args.subjects, args.users, args.seconds / slices, False, k + 1)
            floor += run_load(args.port, tokens, args.subjects, args.users, args.seconds / slices, True, k + 1)
        report: dict = {"date": date.today().isoformat(), "subjects": args.subjects, "users": args.users}
        report |= {"dashboard_cache_s": args.dashboard_cache, "warmup_s": args.warmup, "screens": {}}
        report["cold_p99_ms"] = {n: pct([lat for s, lat, st in cold if s == n and st == 200], 0.99) for n in FLOORS}
        print(f"warm-up ({args.warmup:g} s after the workers start), p99 per screen: {report['cold_p99_ms']}")
        for name in FLOORS:
            r = [lat for s, lat, st in real if s == name and st == 200]
            f = [lat for s, lat, st in floor if s == name and st == 200]
            bad = sorted({st for s, _lat, st in real + floor if s == name and st != 200})
            fig = {"requests": len(r), "p50_ms": pct(r, 0.5), "p99_ms": pct(r, 0.99)}
            fig |= {"floor_p50_ms": pct(f, 0.5), "floor_p99_ms": pct(f, 0.99), "errors": bad}
            fig["ratio_p50"] = round(fig["p50_ms"] / fig["floor_p50_ms"], 2) if r and f else None
            fig["goal_met"] = bool(r and f and fig["p99_ms"] <= 50 and fig["ratio_p50"] <= 2 and not bad)
            report["screens"][name] = fig
            print(
                f"{name:12} p50 {fig['p50_ms']} ms  p99 {fig['p99_ms']} ms  | floor p50 {fig['floor_p50_ms']} ms"
                f"  p99 {fig['floor_p99_ms']} ms  | ratio {fig['ratio_p50']}  {'ok' if fig['goal_met'] else 'MISSED'}"
                + (f"  errors {bad}" if bad else ""),
                flush=True,
            )
        report["csv_export"] = export_csv(args.port, tokens[BUREAU[0]], server.pid)
        print(f"csv export   {report['csv_export']}", flush=True)
        print(json.dumps(report), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.keep:
            _drop(args.url, args.database)


if __name__ == "__main__":
    main()
