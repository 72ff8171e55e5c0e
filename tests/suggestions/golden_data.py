"""A fixed, seeded data set for the suggestion engine's golden test (tests/suggestions/test_golden.py).

Rows are inserted with explicit ids (Core inserts, no services), so the evidence ids in the rationales are
the same on SQLite and PostgreSQL. Every default trigger fires for some subjects and misses for others at
``NOW``, with the edge cases each evaluator must get right: revoked events, events after ``NOW``,
dismissed reports, pending bases, policy causes, lenient levels, subjects released or not yet started,
live and closed suggestions (inside and outside the cooldown), overlapping and capped education time,
offline sessions pending, verified and rejected, and partial months. Supervision levels stay constant
(no level history rows), so the requirement is the current level's.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from backend.models import OrgUnit, Subject, User
from backend.models.education import EducationSession
from backend.models.field import FieldReport, Suggestion
from backend.models.scoring import ScoreChange, ScoreEvent, SubjectScore

SH = ZoneInfo("Asia/Shanghai")
#: the evaluation time: 09:00 on 21 November 2026, Shanghai (the education trigger runs from the 20th)
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=SH).astimezone(UTC)
SUBJECTS = 240
BANDS = [(800, "excellent"), (750, "good"), (700, "fair"), (650, "poor"), (0, "severe")]
EVENTS = [
    ("CHECKIN_ONTIME", 1, 40),
    ("CHECKIN_MISSED", -5, 14),
    ("GRID_POSITIVE", 2, 8),
    ("GRID_NEGATIVE", -5, 6),
    ("GEOFENCE_BREACH", -20, 4),
    ("SERVICE_HOUR", 1, 10),
]
CATEGORIES = [
    ["new_job"],
    ["unemployment"],
    ["family_conflict"],
    ["unemployment", "family_conflict"],
    ["drinking", "unemployment"],
    ["helping_others"],
]
KINDS = ["missed_checkins", "education_shortfall", "unemployment_reports", "score_drop", "grade_fall", "green_stable"]


def grade(total: int) -> str:
    return next(code for lo, code in BANDS if total >= lo)


def _t(d: datetime) -> datetime:
    return d.astimezone(UTC)


def build(s: Session, subjects: int = SUBJECTS, seed: int = 20261121) -> None:
    """Insert the data set (ids from 1 in every table, organisation ids from 100)."""
    rng = random.Random(seed)
    units = [
        {"id": 100, "parent_id": None, "level": "district", "name": "金区", "code": "G-D", "path": "/100/"},
        {"id": 101, "parent_id": 100, "level": "office", "name": "金所一", "code": "G-O1", "path": "/100/101/"},
        {"id": 102, "parent_id": 101, "level": "grid", "name": "金网一", "code": "G-G1", "path": "/100/101/102/"},
        {"id": 103, "parent_id": 100, "level": "office", "name": "金所二", "code": "G-O2", "path": "/100/103/"},
        {"id": 104, "parent_id": 103, "level": "grid", "name": "金网二", "code": "G-G2", "path": "/100/103/104/"},
    ]
    s.execute(insert(OrgUnit), units)
    staff = [
        {"id": 100, "username": "g_officer1", "role": "officer", "display_name": "警官一"},
        {"id": 101, "username": "g_officer2", "role": "officer", "display_name": "警官二"},
        {"id": 102, "username": "g_grid1", "role": "grid", "display_name": "网格员"},
    ]
    s.execute(insert(User), staff)
    people, rows = [], []
    for i in range(1, subjects + 1):
        office, grid = (101, 102) if i % 2 else (103, 104)
        officer = None if i % 17 == 0 else (100 if i % 2 else 101)
        start, end = date(2025, 3, 1), date(2027, 6, 30)
        status = "in_correction"
        if i % 23 == 0:
            status = "released"
        if i % 19 == 0:
            start = date(2026, 11, 10)  # a partial first month
        if i % 29 == 0:
            end = date(2026, 11, 15)  # a partial last month (still in correction on the books)
        if i % 31 == 0:
            start = date(2026, 11, 25)  # not started yet
        people.append({"id": 1000 + i, "username": f"g_s{i}", "role": "subject", "display_name": f"对象{i}"})
        rows.append(
            {
                "id": i,
                "user_id": 1000 + i,
                "name": f"对象{i}",
                "gender": "male",
                "id_number_enc": "x",
                "id_number_hash": f"golden-{i}",
                "correction_type": "probation",
                "start_date": start,
                "end_date": end,
                "supervision_level": rng.choice(["strict", "normal", "normal", "lenient"]),
                "risk_level": "medium",
                "office_id": office,
                "grid_id": grid,
                "officer_id": officer,
                "status": status,
            }
        )
    s.execute(insert(User), people)
    s.execute(insert(Subject), rows)
    out: dict[str, list] = {"events": [], "changes": [], "scores": [], "reports": [], "sessions": [], "sugs": []}
    ids = {"e": 0, "c": 0, "r": 0, "x": 0}
    for i in range(1, subjects + 1):
        _history(i, rng, ids, out)
        _reports(rows[i - 1], rng, ids, out)
        _education(rows[i - 1], rng, ids, out)
        _suggestions(rows[i - 1], rng, out)
    s.execute(insert(ScoreEvent), out["events"])
    s.execute(insert(ScoreChange), out["changes"])
    s.execute(insert(SubjectScore), out["scores"])
    s.execute(insert(FieldReport), out["reports"])
    s.execute(insert(EducationSession), out["sessions"])
    if out["sugs"]:
        s.execute(insert(Suggestion), out["sugs"])


def _history(sid: int, rng: random.Random, ids: dict, out: dict) -> None:
    """A first score long ago, ledger events with a dated change each; some policy changes and pending bases."""
    profile = rng.random()
    total = rng.randint(820, 960) if profile < 0.3 else rng.randint(600, 900)
    pending = rng.random() < 0.08
    ids["c"] += 1
    first = NOW - timedelta(days=rng.choice([400, 250, 190, 120]), hours=rng.randint(0, 23))
    out["changes"].append(_change(ids["c"], sid, first, "initial", None, None, total, pending))
    steady = profile < 0.15  # green all along: at most small positive events
    for _ in range(rng.randint(0, 3) if steady else rng.randint(2, 10)):
        if steady:
            code, pts = "CHECKIN_ONTIME", 1
        else:
            code, pts, _w = rng.choices(EVENTS, [e[2] for e in EVENTS])[0]
        days = rng.choice([rng.uniform(0, 35), rng.uniform(0, 70), rng.uniform(0, 200)])
        at = NOW - timedelta(days=days)
        if rng.random() < 0.03:
            at = NOW + timedelta(hours=rng.randint(1, 48))  # recorded ahead of the evaluation time
        ids["e"] += 1
        status = "revoked" if rng.random() < 0.08 else "active"
        out["events"].append(
            {
                "id": ids["e"],
                "subject_id": sid,
                "dimension": "compliance",
                "points": pts,
                "requested_points": pts,
                "rule_code": code,
                "rule_version": 1,
                "source_kind": "golden",
                "source_id": str(ids["e"]),
                "quantity": 1,
                "occurred_at": at,
                "month": at.astimezone(SH).strftime("%Y-%m"),
                "status": status,
            }
        )
        if status == "revoked":
            continue
        before, total = total, max(0, min(1000, total + pts * rng.choice([1, 1, 2, 4])))
        ids["c"] += 1
        out["changes"].append(_change(ids["c"], sid, at, "event", f"event:{ids['e']}", before, total, pending))
        if rng.random() < 0.1:  # a policy change right after: never the subject's drop or fall
            before, total = total, max(0, total + rng.choice([-40, -25, 30]))
            ids["c"] += 1
            cause = rng.choice(["rule_version", "recompute"])
            later = at + timedelta(minutes=5)
            out["changes"].append(_change(ids["c"], sid, later, cause, None, before, total, pending))
    if rng.random() < 0.9:  # a few subjects have no score row yet
        out["scores"].append(
            {
                "subject_id": sid,
                "rule_version": 1,
                "provincial_score": None if pending else 700,
                "public_base": 280,
                "base_pending": pending,
                "risk": 70,
                "employment": 85,
                "behaviour": 85,
                "compliance": 85,
                "public_welfare": 85,
                "education": 85,
                "management": 495,
                "total": total,
                "grade": grade(total),
                "frozen": False,
            }
        )


def _change(cid, sid, at, cause, ref, before, after, pending) -> dict:
    return {
        "id": cid,
        "subject_id": sid,
        "at": at,
        "cause": cause,
        "ref": ref,
        "rule_version": 1,
        "total_before": before,
        "total_after": after,
        "grade_before": None if before is None else grade(before),
        "grade_after": grade(after),
        "base_pending": pending,
        "details": {},
    }


def _reports(subject: dict, rng: random.Random, ids: dict, out: dict) -> None:
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
        ids["r"] += 1
        at = NOW - timedelta(days=rng.uniform(0, 45))
        out["reports"].append(
            {
                "id": ids["r"],
                "subject_id": subject["id"],
                "reporter_id": 102,
                "office_id": subject["office_id"],
                "grid_id": subject["grid_id"],
                "text": "…",
                "observed_at": at,
                "classification": {},
                "dictionary_version": 1,
                "polarity": "need",
                "categories": rng.choice(CATEGORIES),
                "status": rng.choice(["recorded", "recorded", "recorded", "dismissed", "confirmed"]),
            }
        )


def _education(subject: dict, rng: random.Random, ids: dict, out: dict) -> None:
    """Sessions this month (and one across the month's start): online, offline in every state, overlaps, long days."""
    month = datetime(2026, 11, 1, tzinfo=SH)
    for _ in range(rng.choice([0, 1, 2, 3, 4, 5])):
        day = rng.randint(1, 21)
        start = month + timedelta(days=day - 1, hours=rng.choice([8, 9, 14, 20, 22]), minutes=rng.randint(0, 59))
        minutes = rng.choice([20, 45, 60, 90, 130, 200, 300])
        mode = rng.choice(["online", "online", "online", "offline", "centralised"])
        status = "ended" if mode == "online" else rng.choice(["verified", "verified", "pending", "rejected"])
        if start > NOW:
            start = NOW - timedelta(hours=rng.randint(2, 30))
        spans = [[start, start + timedelta(minutes=minutes)]]
        if mode == "online" and rng.random() < 0.3:  # a pause: two intervals
            half = minutes // 2
            spans = [
                [start, start + timedelta(minutes=half)],
                [start + timedelta(minutes=half + 7), start + timedelta(minutes=minutes)],
            ]
        _session(subject, ids, out, mode, status, spans)
    if rng.random() < 0.1:  # from the evening of 31 October into 1 November
        start = month - timedelta(hours=2)
        _session(subject, ids, out, "online", "ended", [[start, start + timedelta(hours=3)]])
    if rng.random() < 0.05:  # still active
        start = NOW - timedelta(minutes=50)
        _session(subject, ids, out, "online", "active", [[start, NOW - timedelta(minutes=1)]])


def _session(subject: dict, ids: dict, out: dict, mode: str, status: str, spans: list) -> None:
    ids["x"] += 1
    begin, end = spans[0][0], spans[-1][1]
    out["sessions"].append(
        {
            "id": ids["x"],
            "subject_id": subject["id"],
            "office_id": subject["office_id"],
            "mode": mode,
            "course": "法治课",
            "status": status,
            "started_at": _t(begin),
            "ended_at": None if status == "active" else _t(end),
            "last_heartbeat_at": _t(end) if mode == "online" else None,
            "heartbeats": 1,
            "intervals": json.loads(json.dumps([[_t(a).isoformat(), _t(b).isoformat()] for a, b in spans])),
            "credited_seconds": int(sum((b - a).total_seconds() for a, b in spans)),
        }
    )


def _suggestions(subject: dict, rng: random.Random, out: dict) -> None:
    """Earlier suggestions: live ones, and closed ones inside and outside the cooldown."""
    if rng.random() > 0.25:
        return
    kind = rng.choice(KINDS)
    status = rng.choice(["open", "accepted", "dismissed", "done"])
    closed = None
    if status in ("dismissed", "done"):
        closed = NOW - timedelta(days=rng.choice([5, 29, 31, 60, 100]))
    out["sugs"].append(
        {
            "subject_id": subject["id"],
            "kind": kind,
            "category": "supervision",
            "priority": "high",
            "title": "旧建议",
            "rationale": {},
            "trigger_version": 1,
            "officer_id": subject["officer_id"],
            "office_id": subject["office_id"],
            "status": status,
            "due_at": NOW - timedelta(days=40),
            "created_at": NOW - timedelta(days=120),
            "closed_at": closed,
        }
    )


def snapshot(s: Session, since_id: int = 0) -> list[dict]:
    """Every suggestion written after ``since_id``, as comparable JSON-ready rows, in a stable order."""
    rows = s.execute(
        select(
            Suggestion.subject_id,
            Suggestion.kind,
            Suggestion.category,
            Suggestion.priority,
            Suggestion.title,
            Suggestion.rationale,
            Suggestion.trigger_version,
            Suggestion.officer_id,
            Suggestion.office_id,
            Suggestion.status,
            Suggestion.due_at,
            Suggestion.created_at,
        )
        .where(Suggestion.id > since_id)
        .order_by(Suggestion.subject_id, Suggestion.kind)
    ).all()
    out = []
    for r in rows:
        row = r._asdict()
        row["due_at"] = r.due_at.astimezone(UTC).isoformat()
        row["created_at"] = r.created_at.astimezone(UTC).isoformat()
        out.append(row)
    return out
