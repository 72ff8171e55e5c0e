"""Reminders to subjects, each sent once: the check-in due day (in the app, and by SMS to a subject without a
recent app session) and education progress; and the journey of a check-in reminder through the live stream
and the Alibaba Cloud SMS adapter against a local stand-in of the service (docs/schedules.md#reminders)."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.db import db
from backend.models import Notification, RefreshToken, Upload
from backend.models.checkin import CheckIn
from backend.models.delivery import Delivery, ReminderSent
from backend.models.education import EducationSession
from backend.services.activities import reminders
from backend.services.core import delivery, sms
from tests.api.test_notification_stream import parse_sse
from tests.support.activities import HOME, YEAR, headers_for, new_subject, sh
from tests.support.aliyun_sms import KEY_ID, SECRET, FakeAliyunSms
from workers.schedules import SCHEDULES


def _told(user_id: int, kind: str) -> list[Notification]:
    with db.tx() as s:
        query = select(Notification).where(Notification.user_id == user_id, Notification.kind == kind)
        return list(s.scalars(query.order_by(Notification.id)))


def _sms_of(notification_id: int) -> Delivery | None:
    with db.tx() as s:
        query = select(Delivery).where(Delivery.notification_id == notification_id, Delivery.channel == "sms")
        return s.scalar(query.execution_options(populate_existing=True))


def _checked_in(subject, at: datetime) -> None:
    with db.tx() as s:
        upload = Upload(
            owner_id=subject.user_id,
            subject_id=subject.id,
            purpose="checkin",
            status="accepted",
            declared_type="image/jpeg",
            size_bytes=1,
            sha256="0" * 64,
            storage_key=f"originals/reminders/{uuid.uuid4().hex}",
            upload_expires_at=at + timedelta(days=1),
            record_type="checkin",
        )
        s.add(upload)
        s.flush()
        s.add(
            CheckIn(
                subject_id=subject.id,
                client_id=uuid.uuid4().hex,
                upload_id=upload.id,
                latitude=HOME[0],
                longitude=HOME[1],
                accuracy_m=10.0,
                captured_at=at,
                received_at=at,
            )
        )


def _recent_session(user_id: int, at: datetime) -> None:
    with db.tx() as s:
        s.add(
            RefreshToken(
                user_id=user_id,
                family_id=str(uuid.uuid4()),
                token_hash=uuid.uuid4().hex,
                created_at=at,
                expires_at=at + timedelta(days=30),
            )
        )


def test_the_reminder_schedules_are_registered():
    names = {s.name: s for s in SCHEDULES}
    assert names["checkin_reminders"].run is reminders.scheduled_checkin
    assert names["checkin_reminders"].cron == "*/10 * * * *"
    assert names["education_progress"].run is reminders.scheduled_education


def test_a_checkin_reminder_on_the_due_day_once_and_by_sms_only_when_idle(world):
    due = new_subject(world, level="strict")  # a 1-day period: every day is a due day
    done = new_subject(world, level="strict")
    active = new_subject(world, level="strict")
    lenient = new_subject(world, level="lenient", start_date=date(YEAR, 3, 1))  # due on 7 and 14 March
    day = sh(3, 10, 9, 0)
    _checked_in(done, sh(3, 10, 8, 30))
    _recent_session(active.user_id, day - timedelta(days=1))

    got = reminders.send_checkin(day, now=day)
    assert (got["sent"], got["sms"]) == (2, 1)
    [note] = _told(due.user_id, "checkin_reminder")
    assert note.data["period_end"] == f"{YEAR}-03-10" and "22:00" in note.body
    assert _sms_of(note.id) is not None  # no app session in SMS_IDLE_DAYS: also by SMS
    [told_active] = _told(active.user_id, "checkin_reminder")
    assert _sms_of(told_active.id) is None  # used the app yesterday: the app is enough
    assert _told(done.user_id, "checkin_reminder") == []  # checked in already
    assert _told(lenient.user_id, "checkin_reminder") == []  # not their due day

    assert reminders.send_checkin(day + timedelta(minutes=10), now=day + timedelta(minutes=10))["sent"] == 0
    assert len(_told(due.user_id, "checkin_reminder")) == 1  # each sent once


@pytest.mark.parametrize(
    ("at", "now"),
    [
        (sh(3, 10, 8, 50), sh(3, 10, 8, 50)),  # before CHECKIN_REMINDER_TIME (09:00)
        (sh(3, 10, 22, 0), sh(3, 10, 22, 0)),  # the due time has come: too late to help
        (sh(3, 10, 9, 0), sh(3, 11, 9, 5)),  # a catch-up of yesterday's tick: nothing sent after the moment
    ],
)
def test_no_checkin_reminder_outside_its_window(world, at, now):
    subject = new_subject(world, level="strict")
    assert reminders.send_checkin(at, now=now)["sent"] == 0
    assert _told(subject.user_id, "checkin_reminder") == []
    with db.tx() as s:
        assert s.scalar(select(ReminderSent.key).where(ReminderSent.kind == "checkin")) is None


def _studied(subject, minutes: int, on: datetime) -> None:
    with db.tx() as s:
        s.add(
            EducationSession(
                subject_id=subject.id,
                office_id=subject.office_id,
                mode="online",
                course="课程",
                status="ended",
                started_at=on,
                ended_at=on + timedelta(minutes=minutes),
                last_heartbeat_at=on + timedelta(minutes=minutes),
                intervals=[[on.isoformat(), (on + timedelta(minutes=minutes)).isoformat()]],
                credited_seconds=minutes * 60,
            )
        )


def test_education_progress_reminders_on_the_10th_and_from_the_25th_once_each(world):
    behind = new_subject(world)  # normal: 8 h = 480 minutes a month
    on_pace = new_subject(world)
    _studied(on_pace, 150, sh(3, 5, 10, 0))  # over a quarter by the 10th, under the whole by the 25th
    done = new_subject(world)
    _studied(done, 240, sh(3, 5, 10, 0))
    _studied(done, 240, sh(3, 6, 10, 0))

    assert reminders.send_education(date(YEAR, 3, 9), today=date(YEAR, 3, 9))["sent"] == 0  # no stage yet
    # behind, and the world's two subjects, who have not studied either
    assert reminders.send_education(date(YEAR, 3, 10), today=date(YEAR, 3, 10))["sent"] == 3
    assert _told(on_pace.user_id, "education_progress") == [] and _told(done.user_id, "education_progress") == []
    [note] = _told(behind.user_id, "education_progress")
    assert note.data == {"month": f"{YEAR}-03", "counted_minutes": 0, "required_minutes": 480, "stage_day": 10}
    assert f"{YEAR}年3月" in note.title and "还差 480 分钟" in note.body
    assert reminders.send_education(date(YEAR, 3, 12), today=date(YEAR, 3, 12))["sent"] == 0  # once per stage

    assert reminders.send_education(date(YEAR, 3, 25), today=date(YEAR, 3, 25))["sent"] == 4
    assert len(_told(behind.user_id, "education_progress")) == 2
    assert [n.data["stage_day"] for n in _told(on_pace.user_id, "education_progress")] == [25]
    assert _told(done.user_id, "education_progress") == []
    assert reminders.send_education(date(YEAR, 3, 26), today=date(YEAR, 3, 26))["sent"] == 0
    # a catch-up of a past day sends nothing
    assert reminders.send_education(date(YEAR, 4, 10), today=date(YEAR, 4, 11))["sent"] == 0


def test_journey_a_checkin_reminder_reaches_the_stream_and_by_sms_the_phone(world, client):
    """A subject due today who has not opened the app for days: the reminder is in the app's live stream and
    goes by SMS through the Alibaba Cloud adapter, signed, to the local stand-in of the service."""
    subject = new_subject(world, level="strict", phone="13912345678")
    day = sh(3, 10, 9, 0)
    with FakeAliyunSms() as fake:
        templates = "activation_code=SMS_100,checkin_reminder=SMS_200,checkin_missed=SMS_300"
        before = sms.set_provider(sms.AliyunProvider(fake.url, KEY_ID, SECRET, "智矫", sms.parse_templates(templates)))
        try:
            got = reminders.send_checkin(day, now=day)
            assert got["sms"] == 1
            [note] = _told(subject.user_id, "checkin_reminder")
            text = _sms_of(note.id)
            assert delivery.send(text.id) == "sent"
        finally:
            sms.set_provider(before)
    [request] = fake.received
    assert request["PhoneNumbers"] == "13912345678" and request["TemplateCode"] == "SMS_200"
    assert json.loads(request["TemplateParam"]) == {"date": f"{YEAR}-03-10", "time": "22:00"}
    sent = _sms_of(note.id)
    assert (sent.state, sent.attempts, sent.provider, sent.provider_ref) == ("sent", 1, "aliyun", "biz-1^0")

    # the subject opens the app: the live stream has the reminder
    resp = client.get("/api/v1/me/notifications/stream?once=true", headers=headers_for(client, subject))
    [event] = parse_sse(resp.get_data(as_text=True))
    assert event["id"] == str(note.id) and event["data"]["kind"] == "checkin_reminder"
    channels = {d["channel"]: d["state"] for d in event["data"]["deliveries"]}
    assert channels == {"app": "queued", "sms": "sent"}  # as stored when written; the app's is sent now
    listed = client.get("/api/v1/me/notifications", headers=headers_for(client, subject)).get_json()
    assert {d["channel"]: d["state"] for d in listed[0]["deliveries"]} == {"app": "sent", "sms": "sent"}
