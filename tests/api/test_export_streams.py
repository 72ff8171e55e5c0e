"""Streamed CSV exports of the subject list and of a subject's locations (issue 6 §8): complete, masked, audited."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from sqlalchemy import func, select

from backend.db import db
from backend.models import AuditLog, Subject, User
from backend.services.activities import locations
from backend.services.core import crypto
from backend.services.subjects import idcard
from mobile_api.staff import subjects as staff_subjects
from tests.factories import auth_header
from tests.support.activities import AWAY, YEAR, check_in, headers_for, new_subject, sh

CSV = {"Accept": "text/csv"}
EXTRA = staff_subjects.CSV_CHUNK + 7  # more rows than one chunk of the export's cursor


def _rows(resp) -> list[dict]:
    assert resp.status_code == 200 and resp.mimetype == "text/csv", resp.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def _floor() -> int:
    """The newest audit row before this test: the log is a chain kept across tests."""
    with db.tx() as s:
        return s.scalar(select(func.max(AuditLog.id))) or 0


def _audits(action: str, after: int) -> list[AuditLog]:
    with db.tx() as s:
        return list(
            s.scalars(select(AuditLog).where(AuditLog.action == action, AuditLog.id > after).order_by(AuditLog.id))
        )


def _many_subjects(world, n: int) -> dict[int, str]:
    """``n`` subjects named 批量… in officer A's office, added in one transaction; their plain ID numbers by id."""
    plain = {}
    with db.tx() as s:
        for i in range(n):
            number = idcard.make("330102", date(1990, 1, 1) + timedelta(days=i // 900), i % 900)
            user = User(username=f"bulk{i}", role="subject", display_name=f"批量{i}", password_hash=None)
            s.add(user)
            s.flush()
            subject = Subject(
                user_id=user.id,
                name=f"批量{i}",
                gender="male",
                id_number_enc=crypto.encrypt(number),
                id_number_hash=crypto.lookup_hash(number),
                correction_type="probation",
                supervision_level="normal",
                risk_level="medium",
                start_date=date(2026, 1, 1),
                end_date=date(2027, 12, 31),
                office_id=world.units["office_A"],
                grid_id=world.units["grid_A"],
                officer_id=world.users["officer_A"].id,
            )
            s.add(subject)
            s.flush()
            plain[subject.id] = number
    return plain


def test_a_subjects_export_longer_than_one_chunk_is_complete_masked_and_audited(client, world):
    plain = _many_subjects(world, EXTRA)
    floor = _floor()
    hdr = {**auth_header(client, "officerA"), **CSV}
    db.remove()  # the test's own session: the pool must be back to idle once the stream is done
    resp = client.get("/api/v1/staff/subjects?q=批量&page_size=5", headers=hdr)
    content = resp.get_data(as_text=True)
    rows = _rows(resp)
    resp.close()
    if not db.is_sqlite:
        assert db.engine.pool.checkedout() == 0  # the streaming session was released at the end
    assert [int(r["id"]) for r in rows] == sorted(plain)  # every match, in order, not one page
    assert all(number not in content for number in plain.values())
    assert all(r["id_number_masked"] == idcard.mask(plain[int(r["id"])]) for r in rows)
    assert all("*" in r["id_number_masked"] for r in rows)
    (audit,) = _audits("subject.export", floor)
    assert audit.details == {"rows": EXTRA, "filters": {"q": "批量"}}
    assert audit.actor_id == world.users["officer_A"].id

    number = plain[min(plain)]
    one = _rows(client.get(f"/api/v1/staff/subjects?id_number={number}", headers=hdr))
    assert [int(r["id"]) for r in one] == [min(plain)]
    last = _audits("subject.export", floor)[-1]
    assert last.details["rows"] == 1 and number not in str(last.details)  # the ID number never in the log


def test_a_subjects_locations_export_streams_every_point_and_is_audited(client, world, clock, monkeypatch):
    monkeypatch.setattr(locations, "CHUNK", 1)  # every point in its own round trip
    subject = new_subject(world)
    h = headers_for(client, subject)
    check_in(client, h, clock, sh(3, 2, 9, 0))
    check_in(client, h, clock, sh(3, 5, 9, 0), AWAY)
    since = date.today() - timedelta(days=1)
    url = f"/api/v1/staff/subjects/{subject.id}/locations?date_from={since}&date_to={YEAR}-03-31&purpose=核查"
    officer = auth_header(client, "officerA")
    listed = client.get(url + "&page_size=200", headers=officer).get_json()
    floor = _floor()
    rows = _rows(client.get(url + "&page_size=1", headers={**officer, **CSV}))
    assert sorted((r["source"], int(r["id"])) for r in rows) == sorted((p["source"], p["id"]) for p in listed)
    assert [r["source"] for r in rows].count("checkin") == 2 and "upload" in {r["source"] for r in rows}
    assert list(rows[0]) == ["source", "id", "at", "latitude", "longitude", "accuracy_m"]
    (audit,) = _audits("locations.export", floor)
    assert audit.purpose == "核查" and audit.target_id == str(subject.id)
    assert audit.details == {"filters": {"date_from": since.isoformat(), "date_to": f"{YEAR}-03-31"}}
    assert _audits("subject.read_locations", floor) == []  # one audit row per export
    missing = client.get(url.replace("&purpose=核查", ""), headers={**officer, **CSV})
    assert (missing.status_code, missing.get_json()["code"]) == (422, "PURPOSE_REQUIRED")
    foreign = client.get(url, headers={**auth_header(client, "officerB"), **CSV})
    assert foreign.status_code == 404
