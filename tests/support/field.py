"""Helpers for the field tests: field photos, a report over HTTP, rows straight from the database."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backend.db import db
from backend.models import Notification, Subject, Warning, utcnow
from backend.models.scoring import ScoreEvent
from tests.support.uploads import jpeg, scene, upload

SH = ZoneInfo("Asia/Shanghai")
#: a point inside the test districts' circle (centre 119.96, 30.05; radius 20 km)
SPOT = (30.05, 119.96)
_seeds = itertools.count(100)


def field_photo(observed: datetime | None = None, gps=SPOT, **exif) -> bytes:
    """A fresh phone photo (new scene each time, so never a duplicate) taken when the report says."""
    taken = (observed or utcnow()).astimezone(SH).replace(tzinfo=None)
    return jpeg(scene(next(_seeds)), taken=taken, gps=gps, **exif)


def field_upload(client, headers: dict, data: bytes | None = None) -> dict:
    return upload(client, headers, data or field_photo(), purpose="field")


def post_report(client, headers: dict, subject_id: int, text: str, *, photo: dict | None = None, **extra):
    """POST /grid/field-reports with one checked field photo (made here unless given)."""
    observed = extra.pop("observed_at", None) or utcnow() - timedelta(minutes=5)
    photo = photo or field_upload(client, headers, field_photo(observed))
    body = {
        "client_id": str(uuid.uuid4()),
        "subject_id": subject_id,
        "text": text,
        "tags": [],
        "latitude": SPOT[0],
        "longitude": SPOT[1],
        "observed_at": observed.isoformat(),
        "upload_ids": [photo["id"]],
        **extra,
    }
    return client.post("/api/v1/grid/field-reports", json=body, headers=headers), body


def events(subject_id: int, rule_code: str | None = None) -> list[ScoreEvent]:
    stmt = select(ScoreEvent).where(ScoreEvent.subject_id == subject_id).order_by(ScoreEvent.id)
    if rule_code:
        stmt = stmt.where(ScoreEvent.rule_code == rule_code)
    with db.tx() as s:
        return list(s.scalars(stmt))


def warnings_of(subject_id: int, kind: str | None = None) -> list[Warning]:
    stmt = select(Warning).where(Warning.subject_id == subject_id).order_by(Warning.id)
    if kind:
        stmt = stmt.where(Warning.kind == kind)
    with db.tx() as s:
        return list(s.scalars(stmt.execution_options(populate_existing=True)))


def notifications_of(user_id: int, kind: str | None = None) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    with db.tx() as s:
        return list(s.scalars(stmt))


def subject(subject_id: int) -> Subject:
    with db.tx() as s:
        return s.get(Subject, subject_id)


# --- object resolvers for tests/identity/test_access_matrix.py: own ("A") and foreign ("B") objects -------------------


def _cached(ctx, key, make):
    cache = ctx.__dict__.setdefault("_field", {})
    if key not in cache:
        cache[key] = make()
    return cache[key]


def field_report_obj(ctx, role: str, side: str) -> dict:
    """A negative report awaiting review, made by the side's grid worker on the side's subject."""
    from backend.models.field import FieldReport

    def make():
        s_ = ctx.world.subjects[side]
        with db.tx() as s:
            r = FieldReport(
                subject_id=s_.id,
                reporter_id=ctx.world.users[f"grid_{side}"].id,
                office_id=s_.office_id,
                grid_id=s_.grid_id,
                text="打架",
                observed_at=utcnow(),
                classification={},
                dictionary_version=1,
                polarity="negative",
                categories=["fight"],
                status="pending_review",
                due_at=utcnow(),
            )
            s.add(r)
            s.flush()
            return r.id

    return {"report_id": _cached(ctx, ("report", side), make)}


def warning_obj(ctx, role: str, side: str) -> dict:
    from backend.services.core.warnings import raise_warning

    def make():
        with db.tx() as s:
            return raise_warning(s, s.get(Subject, ctx.world.subjects[side].id), "CHECKIN_MISSED", "low", "m")[0].id

    return {"warning_id": _cached(ctx, ("warning", side), make)}


def suggestion_obj(ctx, role: str, side: str) -> dict:
    from backend.models.field import Suggestion

    def make():
        s_ = ctx.world.subjects[side]
        with db.tx() as s:
            x = Suggestion(
                subject_id=s_.id,
                kind="matrix",
                category="supervision",
                priority="low",
                title="m",
                rationale={},
                trigger_version=1,
                officer_id=s_.officer_id,
                office_id=s_.office_id,
                status="open",
                due_at=utcnow(),
            )
            s.add(x)
            s.flush()
            return x.id

    return {"suggestion_id": _cached(ctx, ("suggestion", side), make)}


def first_version_obj(ctx, role: str, side: str) -> dict:
    """Version 1 of a policy (the keyword dictionary, the suggestion triggers): created on first look."""
    return {"version": 1}
