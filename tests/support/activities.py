"""Helpers for the activity tests: a steppable clock, subjects with a grade, real photos, check-ins over HTTP."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backend.db import db
from backend.models import PublicCreditBase, Subject, User, Warning
from backend.models.scoring import ScoreEvent
from backend.services.activities import periods
from backend.services.scoring import score
from backend.services.scoring.rules import current
from tests.factories import World, auth_header, make_subject
from tests.support.uploads import jpeg, run_outbox, scene, sha, upload

SH = ZoneInfo("Asia/Shanghai")
#: dates in the tests are next year's, so events dated then never count as already expired (real time)
YEAR = date.today().year + 1
#: inside district A's circle (centre 119.96 E, 30.05 N, 20 km) and far outside it
HOME = (30.05, 119.96)
AWAY = (31.23, 121.47)  # Shanghai, ~170 km
PROVINCIAL = {"green": 1000, "blue": 700, "red": 0}
_seeds = itertools.count(100)
_names = itertools.count(1)


def sh(month: int, day: int, hour: int = 0, minute: int = 0, year: int = YEAR) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


@dataclass
class Clock:
    at: datetime

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at

    def advance(self, **kw) -> None:
        self.at += timedelta(**kw)


def new_subject(world: World, *, level: str = "normal", grade: str | None = None, side: str = "A", **kw) -> Subject:
    """A subject of office ``side`` starting this year (1 Jan) with a password login; ``grade`` sets a public base."""
    n = next(_names)
    fields = {"start_date": date(YEAR, 1, 1), "end_date": date(YEAR + 1, 12, 31), "supervision_level": level, **kw}
    subject = make_subject(
        office_id=world.units[f"office_{side}"],
        grid_id=world.units[f"grid_{side}"],
        officer_id=world.users[f"officer_{side}"].id,
        username=f"act{n}{side}",
        name=f"对象{n}",
        **fields,
    )
    if grade is not None:
        set_grade(subject.id, grade)
    return subject


def set_grade(subject_id: int, grade: str) -> None:
    """Import a public base that puts a fresh subject in the green, blue or red band."""
    with db.tx() as s:
        s.add(PublicCreditBase(subject_id=subject_id, as_of=date(YEAR - 1, 12, 1), provincial_score=PROVINCIAL[grade]))
        s.flush()
        score.refresh_one(s, s.get(Subject, subject_id), current(s), cause="base_import", ref=None)


def headers_for(client, subject: Subject) -> dict:
    with db.tx() as s:
        username = s.get(User, subject.user_id).username
    return auth_header(client, username)


def photo(taken: datetime, where: tuple[float, float] = HOME, seed: int | None = None) -> bytes:
    """A phone selfie: EXIF capture time (Shanghai wall time with its offset), GPS, make and model."""
    local = taken.astimezone(SH).replace(tzinfo=None)
    return jpeg(scene(seed if seed is not None else next(_seeds)), taken=local, gps=where)


def uploaded(client, headers, taken: datetime, where=HOME, *, purpose: str = "checkin") -> int:
    """An upload whose checks already ran (accepted unless the photo says otherwise)."""
    return upload(client, headers, photo(taken, where), purpose=purpose)["id"]


def declared_only(client, headers, taken: datetime, where=HOME) -> int:
    """An upload completed but not yet checked (its checks wait in the outbox)."""
    data = photo(taken, where)
    body = {"purpose": "checkin", "content_type": "image/jpeg", "size_bytes": len(data), "sha256": sha(data)}
    d = client.post("/api/v1/uploads", json=body, headers=headers).get_json()
    path = d["upload"]["url"].split("://", 1)[1].split("/", 1)[1]
    assert client.put("/" + path, data=data, headers={**headers, "Content-Type": "image/jpeg"}).status_code in (
        200,
        204,
    )
    assert client.post(f"/api/v1/uploads/{d['id']}/complete", headers=headers).status_code == 200
    return d["id"]


def checkin_body(upload_id: int, taken: datetime, where=HOME, **over) -> dict:
    return {
        "client_id": str(uuid.uuid4()),
        "latitude": where[0],
        "longitude": where[1],
        "accuracy_m": 15.0,
        "captured_at": taken.isoformat(),
        "upload_id": upload_id,
        **over,
    }


def check_in(client, headers, clock: Clock, at: datetime, where=HOME, *, taken: datetime | None = None) -> dict:
    """Take a photo at ``taken`` (default ``at``) and check in with it at server time ``at``."""
    taken = taken or at
    clock.set(at)
    uid = uploaded(client, headers, taken, where)
    resp = client.post("/api/v1/me/checkins", json=checkin_body(uid, taken, where), headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return placed(client, headers, resp.get_json()["id"])


def drain() -> None:
    """Run the outbox until nothing is pending, as the worker would (jobs may queue further jobs)."""
    for _ in range(10):
        if not run_outbox():
            return
    raise AssertionError("the outbox keeps growing")


def placed(client, headers, checkin_id: int) -> dict:
    """Run what the worker runs after the request (the placement job), then read the check-in."""
    drain()
    resp = client.get(f"/api/v1/me/checkins/{checkin_id}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def events(subject_id: int, rule: str | None = None) -> list[ScoreEvent]:
    with db.tx() as s:
        stmt = select(ScoreEvent).where(ScoreEvent.subject_id == subject_id).order_by(ScoreEvent.id)
        if rule:
            stmt = stmt.where(ScoreEvent.rule_code == rule)
        return list(s.scalars(stmt))


def rules_of(subject_id: int) -> list[str]:
    return [e.rule_code for e in events(subject_id)]


def warnings_of(subject_id: int, kind: str | None = None) -> list[Warning]:
    with db.tx() as s:
        stmt = select(Warning).where(Warning.subject_id == subject_id).order_by(Warning.id)
        if kind:
            stmt = stmt.where(Warning.kind == kind)
        return list(s.scalars(stmt))


# --- objects for the access matrix (tests/identity/test_access_matrix.py): one of district ``side``'s subject ---------


def _add(obj) -> int:
    with db.tx() as s:
        s.add(obj)
        s.flush()
        return obj.id


def request_obj(ctx, role: str, side: str) -> dict:
    """A pending leave of the side's subject, awaiting the officer."""
    from backend.models.request import SubjectRequest

    subject = ctx.world.subjects[side]
    today = periods.local_date(periods.now())
    r = SubjectRequest(
        subject_id=subject.id,
        office_id=subject.office_id,
        type="leave",
        destination="m",
        reason="m",
        start_date=today + timedelta(days=5),
        end_date=today + timedelta(days=6),
        days=2,
        route="leave_short",
        status="pending",
        decider_role="officer",
        due_at=periods.now() + timedelta(days=3),
    )
    return {"request_id": _add(r)}


def _session(ctx, side: str, mode: str):
    from backend.models.education import EducationSession

    subject = ctx.world.subjects[side]
    now = periods.now()
    status = "active" if mode == "online" else "pending"
    e = EducationSession(
        subject_id=subject.id,
        office_id=subject.office_id,
        mode=mode,
        course="m",
        status=status,
        started_at=now,
        last_heartbeat_at=now if mode == "online" else None,
        ended_at=None if mode == "online" else now,
        intervals=[],
    )
    return {"session_id": _add(e)}


def online_session_obj(ctx, role: str, side: str) -> dict:
    return _session(ctx, side, "online")


def offline_session_obj(ctx, role: str, side: str) -> dict:
    return _session(ctx, side, "offline")


def service_report_obj(ctx, role: str, side: str) -> dict:
    from backend.models.service import ServiceReport

    subject = ctx.world.subjects[side]
    now = periods.now()
    r = ServiceReport(
        subject_id=subject.id,
        office_id=subject.office_id,
        reported_by=subject.user_id,
        source="subject",
        activity_type="m",
        started_at=now - timedelta(hours=1),
        ended_at=now,
        place="m",
        organisation="m",
        minutes=60,
        status="pending",
    )
    return {"report_id": _add(r)}


#: a well-formed return report (check-in) body: it passes the schema, so the object lookup decides 404
MATRIX_CHECKIN = {
    "client_id": "matrix-return",
    "latitude": HOME[0],
    "longitude": HOME[1],
    "accuracy_m": 10.0,
    "captured_at": "2026-01-05T09:00:00+08:00",
    "upload_id": 987_654,
}


def checkin_obj(ctx, role: str, side: str) -> dict:
    """A check-in of the side's subject (its photo a stored, accepted upload)."""
    from backend.models import Upload
    from backend.models.checkin import CheckIn

    subject = ctx.world.subjects[side]
    now = periods.now()
    upload_id = _add(
        Upload(
            owner_id=subject.user_id,
            subject_id=subject.id,
            purpose="checkin",
            status="accepted",
            declared_type="image/jpeg",
            size_bytes=1,
            sha256="0" * 64,
            storage_key=f"originals/matrix/{uuid.uuid4().hex}",
            upload_expires_at=now + timedelta(days=1),
            record_type="checkin",
        )
    )
    c = CheckIn(
        subject_id=subject.id,
        client_id=uuid.uuid4().hex,
        upload_id=upload_id,
        latitude=HOME[0],
        longitude=HOME[1],
        accuracy_m=10.0,
        captured_at=now,
        received_at=now,
    )
    return {"checkin_id": _add(c)}
