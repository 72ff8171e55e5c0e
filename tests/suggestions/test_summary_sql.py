"""The summaries PostgreSQL builds (``engine._summary_sql``) read exactly as the Python ones (``engine._summary``).

Rules: docs/warnings-and-suggestions.md#suggestions.

The golden test sees the values its data set happens to produce; the hours are formatted with one
decimal, where a rounding rule that differs (half up on the decimal value against Python's correct
rounding of the binary one) shows only on some minute counts (9 minutes: 0.15 hours reads "0.1"). So
every count up to 200 hours is compared here, and every other kind's wording with a range of facts.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, column, select, text
from sqlalchemy.types import JSON

from backend.db import db, is_pg
from backend.services.suggestions import engine
from backend.services.suggestions.signals import Candidate
from backend.services.suggestions.triggers import DEFAULT_V1

TRIGGERS = {t["kind"]: t for t in DEFAULT_V1["triggers"]}


def _compare(t: dict, facts_sql: str, names: str = "") -> int:
    with db.tx() as s:
        if not is_pg(s):
            pytest.skip("the SQL summaries are PostgreSQL's; elsewhere the Python ones are the only ones")
        f = text(facts_sql).columns(column("n", Integer), column("facts", JSON)).subquery()
        rows = s.execute(select(f.c.n, f.c.facts, engine._summary_sql(t, f.c.facts, names).label("summary"))).all()
    for r in rows:
        assert r.summary == engine._summary(t, Candidate(None, 1, [], r.facts), names), r.facts
    return len(rows)


def test_education_hours_read_as_python_formats_them(clean):
    t = TRIGGERS["education_progress"]
    sql = """SELECT n, json_build_object('month', '2026-11', 'done_minutes', n, 'required_minutes', 12000 - n,
        'as_of', '2026-11-21') AS facts FROM generate_series(0, 12000) AS n"""
    assert _compare(t, sql) == 12001


def test_green_stable_reads_as_python_writes_it(clean):
    t = TRIGGERS["green_stable"]
    sql = """SELECT n, json_build_object('days', 183, 'supervision_level', 'normal', 'total', n) AS facts
        FROM generate_series(0, 1000, 7) AS n"""
    assert _compare(t, sql) == 143


def test_the_other_kinds_read_as_python_writes_them(clean):
    counts = "SELECT n, json_build_object('count', n, 'window_days', 30) AS facts FROM generate_series(1, 60) AS n"
    assert _compare(TRIGGERS["event_count"], counts, "未按时报到") == 60
    assert _compare(TRIGGERS["report_category"], counts) == 60
    drops = """SELECT n, json_build_object('net_change', -n, 'window_days', 30) AS facts
        FROM generate_series(30, 400, 3) AS n"""
    assert _compare(TRIGGERS["score_drop"], drops) == 124
    falls = """SELECT n, json_build_object('grade', CASE WHEN n < 500 THEN 'severe' ELSE 'poor' END, 'total', n)
        AS facts FROM generate_series(0, 699, 7) AS n"""
    assert _compare(TRIGGERS["grade_fall"], falls) == 100
