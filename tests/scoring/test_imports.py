"""Public credit base import: CSV and JSON, by ID-number hash, idempotent, all or nothing, with a report."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import func, select

from backend.db import db
from backend.models import PublicCreditBase
from backend.models.scoring import ScoreChange, SubjectScore
from tests.backend.test_cli import zhijiao
from tests.factories import auth_header
from tests.support.scoring import new_subject, sql_differences, stored

URL = "/api/v1/admin/credit-base/imports"


def _id(subject) -> str:
    return subject.__dict__["_plain_id_number"]


def _bases() -> int:
    return db.session.scalar(select(func.count()).select_from(PublicCreditBase))


def test_csv_import_sets_the_base_and_dates_it_in_the_history(client, world):
    a, b = new_subject(world), new_subject(world)
    assert stored(a.id)["base_pending"] is True
    csv_text = f"身份证号,日期,省公共信用分\n{_id(a)},2026-03-01,800\n{_id(b).lower()},2026-03-01,455\n"
    resp = client.post(
        URL, json={"format": "csv", "content": csv_text, "filename": "bases.csv"}, headers=auth_header(client, "admin")
    )
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["status"], body["rows"], body["accepted"], body["unchanged"]) == ("accepted", 2, 2, 0)
    assert body["report"]["scores_changed"] == 2
    got = stored(a.id)
    assert (got["base_pending"], got["public_base"], got["total"]) == (False, 320, 320 + 70 + 5 * 85)
    assert stored(b.id)["public_base"] == 182  # round(0.4 × 455)
    change = db.session.scalars(
        select(ScoreChange).where(ScoreChange.subject_id == a.id).order_by(ScoreChange.id)
    ).all()
    assert change[-1].cause == "base_import" and change[-1].ref == f"credit_base_import:{body['id']}"
    assert sql_differences() == []


def test_json_import_is_idempotent_per_subject_and_date(client, world):
    a = new_subject(world)
    admin = auth_header(client, "admin")
    rows = [{"id_number": _id(a), "as_of": "2026-02-01", "provincial_score": 700}]
    first = client.post(URL, json={"format": "json", "rows": rows}, headers=admin).get_json()
    again = client.post(URL, json={"format": "json", "rows": rows}, headers=admin).get_json()
    assert (first["accepted"], again["accepted"], again["unchanged"]) == (1, 0, 1)
    assert _bases() == 1
    newer = [{"id_number": _id(a), "as_of": "2026-04-01", "provincial_score": 900}]
    client.post(URL, json={"format": "json", "rows": newer}, headers=admin)
    older = [{"id_number": _id(a), "as_of": "2025-12-01", "provincial_score": 100}]
    client.post(URL, json={"format": "json", "rows": older}, headers=admin)
    assert stored(a.id)["public_base"] == 360  # the latest as-of date counts, not the latest file


def test_a_bad_row_rejects_the_whole_file_with_a_report(client, world):
    a, b = new_subject(world), new_subject(world)
    client.post(
        URL,
        json={"format": "json", "rows": [{"id_number": _id(b), "as_of": "2026-01-05", "provincial_score": 600}]},
        headers=auth_header(client, "admin"),
    )
    before = _bases()
    rows = [
        {"id_number": _id(a), "as_of": "2026-03-01", "provincial_score": 810},  # fine
        {"id_number": "110105194912310021", "as_of": "2026-03-01", "provincial_score": 500},  # bad check digit
        {"id_number": "11010519491231002X", "as_of": "2026-03-01", "provincial_score": 500},  # nobody we know
        {"id_number": _id(a), "as_of": "2026-03-02", "provincial_score": 1001},  # out of range
        {"id_number": _id(a), "as_of": "03/01/2026", "provincial_score": 500},  # malformed date
        {"id_number": _id(b), "as_of": "2026-01-05", "provincial_score": 610},  # conflicts with the stored one
    ]
    resp = client.post(URL, json={"format": "json", "rows": rows}, headers=auth_header(client, "admin"))
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["code"] == "CREDIT_BASE_IMPORT_REJECTED"
    report = body["detail"]["report"]
    assert {k: report[k] for k in ("rows", "accepted", "malformed", "unknown_subject", "out_of_range", "conflict")} == {
        "rows": 6,
        "accepted": 0,
        "malformed": 2,
        "unknown_subject": 1,
        "out_of_range": 1,
        "conflict": 1,
    }
    assert report["lines"]["malformed"] == [2, 5]
    assert _id(a) not in resp.get_data(as_text=True)
    assert _bases() == before
    assert stored(a.id)["base_pending"] is True


def test_malformed_requests(client, world):
    admin = auth_header(client, "admin")
    assert client.post(URL, json={"format": "csv"}, headers=admin).status_code == 400
    assert client.post(URL, json={"format": "xml", "content": "x"}, headers=admin).status_code == 400
    resp = client.post(URL, json={"format": "json", "content": "[not json"}, headers=admin)
    assert resp.status_code == 422 and resp.get_json()["code"] == "CREDIT_BASE_FILE_INVALID"
    resp = client.post(URL, json={"format": "csv", "content": "id_number,as_of,provincial_score\n"}, headers=admin)
    assert resp.status_code == 422 and resp.get_json()["code"] == "CREDIT_BASE_IMPORT_REJECTED"
    assert (
        client.post(URL, json={"format": "csv", "content": "x"}, headers=auth_header(client, "bureauA")).status_code
        == 403
    )


def test_cli_import_and_verify(world, tmp_path, test_env):
    a = new_subject(world)
    good = tmp_path / "bases.json"
    good.write_text(
        json.dumps([{"id_number": _id(a), "as_of": date(2026, 1, 31).isoformat(), "provincial_score": 750}])
    )
    result = zhijiao(test_env, "credit-base", "import", str(good))
    assert json.loads(result.stdout)["accepted"] == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("id_number,as_of,provincial_score\n123,2026-01-01,5\n")
    result = zhijiao(test_env, "credit-base", "import", str(bad), check=False)
    assert result.returncode == 1 and "CREDIT_BASE_IMPORT_REJECTED" in result.stderr
    db.remove()
    assert stored(a.id)["public_base"] == 300
    assert "all stored scores equal" in zhijiao(test_env, "scores", "verify").stdout
    with db.tx() as s:  # damage one stored score behind the ledger's back
        s.execute(SubjectScore.__table__.update().where(SubjectScore.subject_id == a.id).values(total=1))
    result = zhijiao(test_env, "scores", "verify", check=False)
    assert result.returncode == 1 and f"subject {a.id}: stored 1" in result.stdout
    zhijiao(test_env, "scores", "recompute")
    assert zhijiao(test_env, "scores", "verify").returncode == 0
