"""The staff inbox: contents of every kind, overdue-first ordering, routing and scoping for officer vs bureau."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from backend.db import db
from backend.models import Upload, utcnow
from backend.models.education import EducationSession
from backend.models.field import FieldReport, Suggestion
from backend.models.request import SubjectRequest
from backend.models.scoring import ScoreEvent
from backend.models.scoring_decisions import Appeal, MeritApplication, ScoreAdjustment
from backend.models.service import ServiceReport
from backend.services.core.warnings import raise_warning
from backend.services.subjects.orgs import create_unit
from tests.factories import auth_header, make_subject
from tests.support.field import subject

H = timedelta(hours=1)


def _add(obj) -> int:
    with db.tx() as s:
        s.add(obj)
        s.flush()
        return obj.id


def _event(sid: int, confirmed_by: int | None) -> int:
    now = utcnow()
    return _add(
        ScoreEvent(
            subject_id=sid,
            dimension="compliance",
            points=-5,
            requested_points=-5,
            rule_code="CHECKIN_MISSED",
            rule_version=1,
            source_kind="test",
            source_id=f"{sid}:{confirmed_by}",
            occurred_at=now,
            month=now.strftime("%Y-%m"),
            status="active",
            confirmed_by=confirmed_by,
        )
    )


def _warning(sid: int, kind: str, due) -> int:
    with db.tx() as s:
        return raise_warning(s, subject(sid), kind, "medium", kind, period_key=str(due), due_at=due)[0].id


def _items(sid: int, office: int, world, now) -> dict[str, int]:
    """One open item of every kind for subject ``sid``; returns kind → id (routing noted in the names)."""
    grid = world.users["grid_A"].id
    ids = {}
    ids["request"] = _add(
        SubjectRequest(
            subject_id=sid,
            office_id=office,
            type="leave",
            destination="上海",
            reason="探亲",
            start_date=date(2026, 12, 1),
            end_date=date(2026, 12, 3),
            days=3,
            route="leave_short",
            status="pending",
            decider_role="officer",
            due_at=now + 30 * H,
        )
    )
    ids["request_bureau"] = _add(
        SubjectRequest(
            subject_id=sid,
            office_id=office,
            type="leave",
            destination="北京",
            reason="就医",
            start_date=date(2026, 12, 5),
            end_date=date(2026, 12, 20),
            days=16,
            route="leave_long",
            status="recommended",
            decider_role="bureau",
            due_at=now + 40 * H,
        )
    )
    ids["service_verification"] = _add(
        ServiceReport(
            subject_id=sid,
            office_id=office,
            reported_by=grid,
            source="grid_worker",
            activity_type="垃圾分类",
            started_at=now - 3 * H,
            ended_at=now - H,
            place="小区",
            minutes=120,
            status="pending",
            due_at=now + 20 * H,
        )
    )
    ids["education_verification"] = _add(
        EducationSession(
            subject_id=sid,
            office_id=office,
            mode="offline",
            course="集中学习",
            status="pending",
            started_at=now - 2 * H,
            due_at=now + 10 * H,
        )
    )
    ids["appeal"] = _add(
        Appeal(
            subject_id=sid,
            office_id=office,
            event_id=_event(sid, None),
            reason="当天生病",
            decider_role="officer",
            excluded_user_ids=[],
            due_at=now + 50 * H,
        )
    )
    officer = world.users["officer_A"].id
    ids["appeal_bureau"] = _add(
        Appeal(
            subject_id=sid,
            office_id=office,
            event_id=_event(sid, officer),
            reason="有误",
            decider_role="bureau",
            excluded_user_ids=[officer],
            due_at=now + 60 * H,
        )
    )
    ids["merit_application"] = _add(
        MeritApplication(
            subject_id=sid,
            office_id=office,
            rule_code="MERIT_DONATION",
            points=5,
            description="捐款",
            occurred_on=date(2026, 11, 1),
            decider_role="officer",
            due_at=now - 2 * H,
        )
    )
    ids["merit_bureau"] = _add(
        MeritApplication(
            subject_id=sid,
            office_id=office,
            rule_code="MERIT_BRAVERY",
            points=20,
            description="救人",
            occurred_on=date(2026, 11, 1),
            decider_role="bureau",
            due_at=now + 70 * H,
        )
    )
    ids["adjustment"] = _add(
        ScoreAdjustment(
            subject_id=sid, office_id=office, dimension="behaviour", points=5, reason="更正", proposed_by=officer
        )
    )
    ids["suspect_evidence"] = _add(
        Upload(
            owner_id=grid,
            subject_id=sid,
            purpose="field",
            status="suspect",
            declared_type="image/jpeg",
            size_bytes=1,
            sha256="0" * 64,
            storage_key=f"originals/t{sid}",
            upload_expires_at=now,
            record_type="field_report",
            record_id="1",
            attached_at=now,
            review_status="open",
        )
    )
    with db.tx() as s:
        raise_warning(
            s,
            subject(sid),
            "EVIDENCE_SUSPECT",
            "medium",
            "存疑",
            period_key=f"upload:{ids['suspect_evidence']}",
            details={"upload_id": ids["suspect_evidence"]},
            due_at=now + 5 * H,
        )
    ids["negative_field_report"] = _add(
        FieldReport(
            subject_id=sid,
            reporter_id=grid,
            office_id=office,
            grid_id=world.units["grid_A"],
            text="与人打架",
            observed_at=now,
            classification={},
            dictionary_version=1,
            polarity="negative",
            categories=["fight"],
            status="pending_review",
            due_at=now + 15 * H,
        )
    )
    ids["warning"] = _warning(sid, "CHECKIN_MISSED", now - 5 * H)
    ids["suggestion"] = _add(
        Suggestion(
            subject_id=sid,
            kind="missed_checkins",
            category="supervision",
            priority="high",
            title="建议约谈",
            rationale={},
            trigger_version=1,
            officer_id=officer,
            office_id=office,
            status="open",
            due_at=now + 25 * H,
        )
    )
    return ids


@pytest.fixture
def setup(world):
    now = utcnow()
    a = world.subjects["A"].id
    ids = _items(a, world.units["office_A"], world, now)
    with db.tx() as s:  # a second office in district A that officer A does not work in
        office2 = create_unit(s, level="office", name="所A2", code="OA2", parent_id=world.units["district_A"]).id
        grid2 = create_unit(s, level="grid", name="网格A2", code="GA2", parent_id=office2).id
    a2 = make_subject(office_id=office2, grid_id=grid2, officer_id=None, username="subjectA2", name="对象A2").id
    ids["a2_overdue"] = _warning(a2, "GEOFENCE", now - 30 * H)
    ids["a2_pending"] = _warning(a2, "LEAVE_OVERDUE", now + 30 * H)
    ids["b"] = _warning(world.subjects["B"].id, "CHECKIN_MISSED", now - 10 * H)
    return ids


def _get(client, user: str, query: str = "") -> list[dict]:
    resp = client.get(f"/api/v1/staff/inbox?page_size=100{query}", headers=auth_header(client, user))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_officer_sees_the_items_routed_to_officers_of_their_office_overdue_first(client, world, setup):
    got = _get(client, "officerA")
    routed = [
        "warning",
        "merit_application",
        "suspect_evidence",
        "education_verification",
        "negative_field_report",
        "service_verification",
        "suggestion",
        "request",
        "appeal",
    ]
    assert [(i["kind"], i["item_id"]) for i in got] == [(k, setup[k]) for k in routed]
    assert [i["overdue"] for i in got] == [True, True] + [False] * 7
    first = got[0]
    assert first["subject_name"] == "对象A" and first["office_name"] == "所A" and first["subtype"] == "CHECKIN_MISSED"
    assert first["action"] == {"method": "POST", "path": f"/api/v1/staff/warnings/{setup['warning']}/handle"}
    assert "id_number" not in json.dumps(got)


def test_bureau_sees_what_was_sent_up_and_district_wide_overdue_items(client, world, setup):
    got = _get(client, "bureauA")
    expected = [
        ("warning", setup["a2_overdue"]),  # overdue, another office of the district
        ("warning", setup["warning"]),  # overdue, officer's item
        ("merit_application", setup["merit_application"]),  # overdue, officer's item
        ("request", setup["request_bureau"]),
        ("appeal", setup["appeal_bureau"]),
        ("merit_application", setup["merit_bureau"]),
        ("adjustment", setup["adjustment"]),  # no due time: last
    ]
    assert [(i["kind"], i["item_id"]) for i in got] == expected
    assert ("warning", setup["a2_pending"]) not in {(i["kind"], i["item_id"]) for i in got}


def test_other_district_and_filters(client, world, setup):
    assert [(i["kind"], i["item_id"]) for i in _get(client, "officerB")] == [("warning", setup["b"])]
    assert [(i["kind"], i["item_id"]) for i in _get(client, "bureauB")] == [("warning", setup["b"])]
    only = _get(client, "officerA", "&kind=appeal")
    assert [i["item_id"] for i in only] == [setup["appeal"]]
    late = _get(client, "officerA", "&overdue=true")
    assert [i["kind"] for i in late] == ["warning", "merit_application"]
    resp = client.get("/api/v1/staff/inbox?page=2&page_size=4", headers=auth_header(client, "officerA"))
    meta = json.loads(resp.headers["X-Pagination"])
    assert (meta["total"], meta["total_pages"], len(resp.get_json())) == (9, 3, 4)
    assert _get(client, "officerA", f"&office_id={world.units['office_B']}") == []
    assert client.get("/api/v1/staff/inbox", headers=auth_header(client, "gridA")).status_code == 403


def test_inbox_csv_masks_the_id_number(client, world, setup):
    resp = client.get("/api/v1/staff/inbox", headers={**auth_header(client, "officerA"), "Accept": "text/csv"})
    text = resp.get_data(as_text=True)
    number = world.subjects["A"].__dict__["_plain_id_number"]
    assert resp.status_code == 200 and text.count("\n") == 10
    assert number not in text and text.count(number[:3] + "*" * 11 + number[-4:]) == 9


def test_a_decided_item_leaves_the_inbox(client, world, setup):
    with db.tx() as s:
        s.get(Suggestion, setup["suggestion"]).status = "done"
        s.get(FieldReport, setup["negative_field_report"]).status = "confirmed"
    kinds = {i["kind"] for i in _get(client, "officerA")}
    assert "suggestion" not in kinds and "negative_field_report" not in kinds


def test_users_of_a_role_share_one_statement_with_their_own_exclusions(client, world, setup):
    """The inbox statement is kept per role, not per user: the caller's id is bound, so an appeal that
    excludes one bureau user is still hidden from them and shown to their colleague, asked in turn."""
    from backend.services.identity.users import create_user
    from backend.services.oversight import inbox
    from tests.factories import PASSWORD

    with db.tx() as s:
        colleague = create_user(
            s, username="bureauA2", password=PASSWORD, role="bureau", unit_ids=[world.units["district_A"]]
        ).id
    sid, now = world.subjects["A"].id, utcnow()
    hidden = _add(
        Appeal(
            subject_id=sid,
            office_id=world.units["office_A"],
            event_id=_event(sid, colleague),
            reason="复核",
            decider_role="bureau",
            excluded_user_ids=[colleague],
            due_at=now + 80 * H,
        )
    )
    inbox._memo.clear()
    for _ in range(2):
        mine = {i["item_id"] for i in _get(client, "bureauA", "&kind=appeal")}
        theirs = {i["item_id"] for i in _get(client, "bureauA2", "&kind=appeal")}
        assert mine == {setup["appeal_bureau"], hidden}
        assert theirs == {setup["appeal_bureau"]}
    assert [key[:2] for key in inbox._memo] == [("page", ("bureau", True))], "one statement for both users"
