"""Access matrix: every registered endpoint × every role × own / foreign object (docs/roles.md#permissions-by-action).

The table below is the specification: per (method, rule) the outcome for each role. A new endpoint
without an entry fails ``test_table_covers_every_endpoint``; the walk checks that the running app does
what the table says; foreign objects (district B) answer exactly like objects that do not exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest

from backend.db import db
from backend.services.core.notifications import notify
from backend.services.identity import access
from backend.services.subjects import idcard
from backend.services.subjects.orgs import create_unit
from mobile_api.http.security import ENDPOINT_ACTIONS, endpoint_key
from tests.factories import World, auth_header, make_subject
from tests.support import activities as activities_support
from tests.support import field as field_support
from tests.support import scoring as scoring_support
from tests.support.uploads import file_token_obj, own_upload_obj, subject_upload_obj

ROLES = ("anonymous", "subject", "grid_worker", "officer", "bureau", "admin")
SIGNED_IN = ROLES[1:]
#: the caller of each role lives in district A (its user name in ``make_world``)
CALLER = {"subject": "subjectA", "grid_worker": "gridA", "officer": "officerA", "bureau": "bureauA", "admin": "admin"}
USER_KEY = {"subject": "subject_{}", "grid_worker": "grid_{}", "officer": "officer_{}", "bureau": "bureau_{}"}

OK = "ok"  # passes authorisation: 2xx, or a 4xx other than 401/403/404/405 for a deliberately minimal body
SCOPED = "scoped"  # object URL: the caller's own object is OK, a foreign one (district B) is 404
NONEXISTENT_ID = 987_654


def public() -> dict[str, object]:
    return dict.fromkeys(ROLES, OK)


def signed_in(outcome: str = OK) -> dict[str, object]:
    return {"anonymous": 401, **dict.fromkeys(SIGNED_IN, outcome)}


def only(**allowed: str) -> dict[str, object]:
    """The listed roles get their outcome, every other signed-in role 403, anonymous 401."""
    return {"anonymous": 401, **{r: allowed.get(r, 403) for r in SIGNED_IN}}


def subject_obj(ctx: Ctx, role: str, side: str) -> dict:
    return {"subject_id": ctx.world.subjects[side].id}


def staff_user_obj(ctx: Ctx, role: str, side: str) -> dict:
    return {"user_id": ctx.world.users[f"officer_{side}"].id}


def notification_obj(ctx: Ctx, role: str, side: str) -> dict:
    """Own: a notification of the caller; foreign: one of the same role's user in district B."""
    return {"notification_id": ctx.notifications[(role, side)]}


@dataclass(frozen=True)
class Entry:
    roles: dict[str, object]
    body: dict | None = None  # sent as JSON; None sends no body
    obj: Callable[[Ctx, str, str], dict] | None = None  # URL values of the own ("A") / foreign ("B") object


TABLE: dict[tuple[str, str], Entry] = {
    ("GET", "/healthz"): Entry(public()),
    ("GET", "/readyz"): Entry(public()),
    ("GET", "/metrics"): Entry(public()),
    ("GET", "/docs/assets/<string:name>"): Entry(public(), obj=lambda ctx, role, side: {"name": "swagger-ui.css"}),
    # the H5 app's files (mobile_api/web.py); "/" only redirects here (excluded below)
    ("GET", "/app/"): Entry(public()),
    ("GET", "/app/<path:path>"): Entry(public(), obj=lambda ctx, role, side: {"path": "js/api.js"}),
    ("GET", "/api/v1/meta/error-codes"): Entry(public()),
    ("GET", "/api/v1/meta/state-machines"): Entry(public()),
    ("POST", "/api/v1/auth/login"): Entry(public(), body={}),
    ("POST", "/api/v1/auth/activate"): Entry(public(), body={}),
    ("POST", "/api/v1/auth/reset"): Entry(public(), body={}),
    ("POST", "/api/v1/auth/refresh"): Entry(public(), body={}),
    ("POST", "/api/v1/auth/logout"): Entry(signed_in()),
    ("GET", "/api/v1/me"): Entry(signed_in()),
    ("POST", "/api/v1/me/password"): Entry(signed_in(), body={}),
    ("POST", "/api/v1/me/devices"): Entry(signed_in(), body={}),
    ("GET", "/api/v1/me/notifications"): Entry(signed_in()),
    ("GET", "/api/v1/me/notifications/stream"): Entry(signed_in()),
    ("POST", "/api/v1/me/notifications/<int:notification_id>/read"): Entry(signed_in(SCOPED), obj=notification_obj),
    ("GET", "/api/v1/staff/subjects"): Entry(only(officer=OK, bureau=OK)),
    ("POST", "/api/v1/staff/subjects"): Entry(only(officer=OK), body={}),
    ("GET", "/api/v1/staff/subjects/<int:subject_id>"): Entry(only(officer=SCOPED, bureau=SCOPED), obj=subject_obj),
    ("PATCH", "/api/v1/staff/subjects/<int:subject_id>"): Entry(
        only(officer=SCOPED, bureau=SCOPED), body={}, obj=subject_obj
    ),
    ("POST", "/api/v1/staff/subjects/<int:subject_id>/activation-code"): Entry(
        only(officer=SCOPED, bureau=SCOPED), body={}, obj=subject_obj
    ),
    ("GET", "/api/v1/grid/subjects"): Entry(only(grid_worker=OK)),
    ("GET", "/api/v1/admin/org-units"): Entry(only(admin=OK)),
    ("POST", "/api/v1/admin/org-units"): Entry(only(admin=OK), body={}),
    ("GET", "/api/v1/admin/users"): Entry(only(admin=OK)),
    ("POST", "/api/v1/admin/users"): Entry(only(admin=OK), body={}),
    # staff accounts of every district are the admin's: both objects are OK (subject accounts are 404, below)
    ("PATCH", "/api/v1/admin/users/<int:user_id>"): Entry(only(admin=OK), body={"active": True}, obj=staff_user_obj),
    ("POST", "/api/v1/admin/users/<int:user_id>/reset-code"): Entry(only(admin=OK), body={}, obj=staff_user_obj),
    ("GET", "/api/v1/admin/audit"): Entry(only(admin=OK)),
    ("POST", "/api/v1/admin/audit/verify"): Entry(only(admin=OK)),
    # photo evidence (issue 3): uploads are their owner's; staff also see those of subjects they supervise
    ("POST", "/api/v1/uploads"): Entry(only(subject=OK, grid_worker=OK, officer=OK, bureau=OK), body={}),
    ("GET", "/api/v1/uploads/<int:upload_id>"): Entry(
        only(subject=SCOPED, grid_worker=SCOPED, officer=SCOPED, bureau=SCOPED), obj=own_upload_obj
    ),
    ("PUT", "/api/v1/uploads/<int:upload_id>/content"): Entry(
        only(subject=SCOPED, grid_worker=SCOPED, officer=SCOPED, bureau=SCOPED), obj=own_upload_obj
    ),
    ("POST", "/api/v1/uploads/<int:upload_id>/complete"): Entry(
        only(subject=SCOPED, grid_worker=SCOPED, officer=SCOPED, bureau=SCOPED), obj=own_upload_obj
    ),
    ("GET", "/api/v1/files/<string:token>"): Entry(public(), obj=file_token_obj),  # the signed token is the key
    ("POST", "/api/v1/staff/uploads/<int:upload_id>/review"): Entry(
        only(officer=SCOPED, bureau=SCOPED), body={"decision": "clear", "note": "matrix"}, obj=subject_upload_obj
    ),
    ("GET", "/api/v1/staff/uploads/<int:upload_id>/original"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=subject_upload_obj
    ),
    # face references (issue 7): staff of the subject's jurisdiction only; subjects never touch their own
    ("GET", "/api/v1/staff/subjects/<int:subject_id>/face-references"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=subject_obj
    ),
    ("POST", "/api/v1/staff/subjects/<int:subject_id>/face-references"): Entry(
        only(officer=SCOPED, bureau=SCOPED),
        body={"upload_id": NONEXISTENT_ID, "notice_given_at": "2026-01-05T09:00:00+08:00"},
        obj=subject_obj,
    ),
    ("DELETE", "/api/v1/staff/subjects/<int:subject_id>/face-references"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=subject_obj
    ),
    # the credit correction score (issue 4): subjects read their own; staff of the jurisdiction decide; admin rules
    ("GET", "/api/v1/me/score"): Entry(only(subject=OK)),
    ("GET", "/api/v1/me/score/history"): Entry(only(subject=OK)),
    ("GET", "/api/v1/me/score/events"): Entry(only(subject=OK)),
    ("GET", "/api/v1/me/appeals"): Entry(only(subject=OK)),
    ("POST", "/api/v1/me/appeals"): Entry(only(subject=OK), body={}),
    ("GET", "/api/v1/me/merit-applications"): Entry(only(subject=OK)),
    ("POST", "/api/v1/me/merit-applications"): Entry(only(subject=OK), body={}),
    ("GET", "/api/v1/me/merit-types"): Entry(only(subject=OK)),
    ("GET", "/api/v1/staff/subjects/<int:subject_id>/score"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=subject_obj
    ),
    ("GET", "/api/v1/staff/subjects/<int:subject_id>/score/history"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=subject_obj
    ),
    ("GET", "/api/v1/staff/subjects/<int:subject_id>/score/events"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=subject_obj
    ),
    ("POST", "/api/v1/staff/subjects/<int:subject_id>/employment"): Entry(
        only(officer=SCOPED),
        body={"kind": "job", "organisation": "matrix", "started_on": "2026-01-02"},
        obj=subject_obj,
    ),
    ("POST", "/api/v1/staff/subjects/<int:subject_id>/adjustments"): Entry(
        only(officer=SCOPED), body={"dimension": "compliance", "points": -1, "reason": "matrix"}, obj=subject_obj
    ),
    ("GET", "/api/v1/staff/adjustments"): Entry(only(officer=OK, bureau=OK)),
    ("POST", "/api/v1/staff/adjustments/<int:adjustment_id>/decision"): Entry(
        only(bureau=SCOPED), body={"decision": "reject", "note": "matrix"}, obj=scoring_support.adjustment_obj
    ),
    ("GET", "/api/v1/staff/appeals"): Entry(only(officer=OK, bureau=OK)),
    ("POST", "/api/v1/staff/appeals/<int:appeal_id>/decision"): Entry(
        only(officer=SCOPED, bureau=SCOPED),
        body={"decision": "dismiss", "note": "matrix"},
        obj=scoring_support.appeal_obj,
    ),
    ("GET", "/api/v1/staff/merit-applications"): Entry(only(officer=OK, bureau=OK)),
    ("POST", "/api/v1/staff/merit-applications/<int:application_id>/decision"): Entry(
        only(officer=SCOPED, bureau=SCOPED),
        body={"decision": "reject", "note": "matrix"},
        obj=scoring_support.merit_obj,
    ),
    ("POST", "/api/v1/staff/subjects/<int:subject_id>/release"): Entry(
        only(officer=SCOPED, bureau=SCOPED), body={}, obj=scoring_support.fresh_subject_obj
    ),
    ("GET", "/api/v1/staff/subjects/<int:subject_id>/export"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=subject_obj
    ),
    ("GET", "/api/v1/staff/subjects/<int:subject_id>/export/file"): Entry(only(bureau=SCOPED), obj=subject_obj),
    ("POST", "/api/v1/staff/subjects/<int:subject_id>/export/handover"): Entry(
        only(bureau=SCOPED), body={"reference": "matrix"}, obj=subject_obj
    ),
    ("GET", "/api/v1/admin/rule-sets"): Entry(only(admin=OK)),
    ("POST", "/api/v1/admin/rule-sets"): Entry(only(admin=OK), body={}),
    ("GET", "/api/v1/admin/rule-sets/<int:version>"): Entry(only(admin=OK), obj=scoring_support.rule_set_obj),
    ("GET", "/api/v1/admin/credit-base/imports"): Entry(only(admin=OK)),
    ("POST", "/api/v1/admin/credit-base/imports"): Entry(only(admin=OK), body={}),
    ("GET", "/api/v1/admin/credit-base/imports/<int:import_id>"): Entry(
        only(admin=OK), obj=scoring_support.credit_import_obj
    ),
    # activities (issue 5): a subject's own daily life; staff of the jurisdiction decide; grid workers observe
    ("GET", "/api/v1/me/checkin-schedule"): Entry(only(subject=OK)),
    ("GET", "/api/v1/me/checkins"): Entry(only(subject=OK)),
    ("POST", "/api/v1/me/checkins"): Entry(only(subject=OK), body={}),
    ("GET", "/api/v1/me/checkins/<int:checkin_id>"): Entry(only(subject=SCOPED), obj=activities_support.checkin_obj),
    ("GET", "/api/v1/me/requests"): Entry(only(subject=OK)),
    ("POST", "/api/v1/me/requests"): Entry(only(subject=OK), body={}),
    ("POST", "/api/v1/me/requests/<int:request_id>/cancel"): Entry(
        only(subject=SCOPED), obj=activities_support.request_obj
    ),
    ("POST", "/api/v1/me/requests/<int:request_id>/return"): Entry(
        only(subject=SCOPED), body=activities_support.MATRIX_CHECKIN, obj=activities_support.request_obj
    ),
    ("GET", "/api/v1/me/education-sessions"): Entry(only(subject=OK)),
    ("POST", "/api/v1/me/education-sessions"): Entry(only(subject=OK), body={}),
    ("POST", "/api/v1/me/education-sessions/<int:session_id>/heartbeat"): Entry(
        only(subject=SCOPED), body={}, obj=activities_support.online_session_obj
    ),
    ("GET", "/api/v1/me/education/summary"): Entry(only(subject=OK)),
    ("GET", "/api/v1/me/service-reports"): Entry(only(subject=OK)),
    ("POST", "/api/v1/me/service-reports"): Entry(only(subject=OK), body={}),
    ("POST", "/api/v1/me/sync"): Entry(only(subject=OK), body={}),
    ("GET", "/api/v1/staff/requests"): Entry(only(officer=OK, bureau=OK)),
    ("POST", "/api/v1/staff/requests/<int:request_id>/decision"): Entry(
        only(officer=SCOPED, bureau=SCOPED),
        body={"decision": "reject", "note": "matrix"},
        obj=activities_support.request_obj,
    ),
    ("POST", "/api/v1/staff/subjects/<int:subject_id>/transfer"): Entry(
        only(officer=SCOPED, bureau=SCOPED),
        body={"request_id": NONEXISTENT_ID, "office_id": 1, "grid_id": 1},
        obj=subject_obj,
    ),
    ("GET", "/api/v1/staff/subjects/<int:subject_id>/locations"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=subject_obj
    ),
    # issue 17: what the staff screens read (org units of my jurisdiction; a subject's activity; one record)
    ("GET", "/api/v1/staff/org-units"): Entry(only(officer=OK, bureau=OK)),
    ("GET", "/api/v1/staff/subjects/<int:subject_id>/checkins"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=subject_obj
    ),
    ("GET", "/api/v1/staff/subjects/<int:subject_id>/education-sessions"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=subject_obj
    ),
    ("GET", "/api/v1/staff/subjects/<int:subject_id>/service-reports"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=subject_obj
    ),
    ("GET", "/api/v1/staff/education-sessions/<int:session_id>"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=activities_support.offline_session_obj
    ),
    ("GET", "/api/v1/staff/service-reports/<int:report_id>"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=activities_support.service_report_obj
    ),
    # verifications, reviews and warnings: the officer; a bureau user once the item is overdue (escalation,
    # docs/warnings-and-suggestions.md#escalation), else NOT_THE_DECIDER (422)
    ("POST", "/api/v1/staff/education-sessions/<int:session_id>/verification"): Entry(
        only(officer=SCOPED, bureau=SCOPED),
        body={"decision": "reject", "note": "matrix"},
        obj=activities_support.offline_session_obj,
    ),
    ("POST", "/api/v1/staff/service-reports/<int:report_id>/verification"): Entry(
        only(officer=SCOPED, bureau=SCOPED),
        body={"decision": "reject", "note": "matrix"},
        obj=activities_support.service_report_obj,
    ),
    ("POST", "/api/v1/grid/service-reports"): Entry(only(grid_worker=OK), body={}),
    ("GET", "/api/v1/grid/service-reports"): Entry(only(grid_worker=OK)),
    # field reports, warnings, suggestions, inbox, dashboard (issue 6): grid workers report on their grids' subjects;
    # staff of the jurisdiction read, officers decide; admins keep the keyword dictionary and suggestion triggers
    ("GET", "/api/v1/grid/field-reports"): Entry(only(grid_worker=OK)),
    ("POST", "/api/v1/grid/field-reports"): Entry(only(grid_worker=OK), body={}),
    ("GET", "/api/v1/grid/field-reports/<int:report_id>"): Entry(
        only(grid_worker=SCOPED), obj=field_support.field_report_obj
    ),
    ("GET", "/api/v1/staff/field-reports"): Entry(only(officer=OK, bureau=OK)),
    ("GET", "/api/v1/staff/field-reports/<int:report_id>"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=field_support.field_report_obj
    ),
    ("POST", "/api/v1/staff/field-reports/<int:report_id>/review"): Entry(
        only(officer=SCOPED, bureau=SCOPED),
        body={"decision": "dismiss", "note": "matrix"},
        obj=field_support.field_report_obj,
    ),
    ("GET", "/api/v1/staff/warnings"): Entry(only(officer=OK, bureau=OK)),
    ("GET", "/api/v1/staff/warnings/<int:warning_id>"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=field_support.warning_obj
    ),
    ("POST", "/api/v1/staff/warnings/<int:warning_id>/acknowledge"): Entry(
        only(officer=SCOPED), obj=field_support.warning_obj
    ),
    ("POST", "/api/v1/staff/warnings/<int:warning_id>/handle"): Entry(
        only(officer=SCOPED, bureau=SCOPED),
        body={"outcome": "resolved", "note": "matrix"},
        obj=field_support.warning_obj,
    ),
    ("GET", "/api/v1/staff/suggestions"): Entry(only(officer=OK, bureau=OK)),
    ("GET", "/api/v1/staff/suggestions/<int:suggestion_id>"): Entry(
        only(officer=SCOPED, bureau=SCOPED), obj=field_support.suggestion_obj
    ),
    ("POST", "/api/v1/staff/suggestions/<int:suggestion_id>"): Entry(
        only(officer=SCOPED), body={"action": "accept"}, obj=field_support.suggestion_obj
    ),
    ("GET", "/api/v1/staff/inbox"): Entry(only(officer=OK, bureau=OK)),
    ("GET", "/api/v1/staff/dashboard"): Entry(only(officer=OK, bureau=OK)),
    ("GET", "/api/v1/admin/keywords"): Entry(only(admin=OK)),
    ("POST", "/api/v1/admin/keywords"): Entry(only(admin=OK), body={}),
    ("GET", "/api/v1/admin/keywords/<int:version>"): Entry(only(admin=OK), obj=field_support.first_version_obj),
    ("POST", "/api/v1/admin/keywords/classify"): Entry(only(admin=OK), body={}),
    ("GET", "/api/v1/admin/suggestion-triggers"): Entry(only(admin=OK)),
    ("POST", "/api/v1/admin/suggestion-triggers"): Entry(only(admin=OK), body={}),
    ("GET", "/api/v1/admin/suggestion-triggers/<int:version>"): Entry(
        only(admin=OK), obj=field_support.first_version_obj
    ),
}
#: run last: it signs the caller's device out
LAST = {("POST", "/api/v1/auth/logout")}


@dataclass
class Ctx:
    world: World
    headers: dict[str, dict]
    notifications: dict[tuple[str, str], int]


def _excluded(endpoint: str) -> bool:
    """Routes flask-smorest and Flask add themselves (static files, /openapi.json, /docs), and "/" (a redirect)."""
    return endpoint in ("static", "web.root") or endpoint.startswith("api-docs.")


def registered_routes(app) -> dict[tuple[str, str], Callable]:
    """(method, rule) → the view function that serves it, for every route the app registers."""
    routes = {}
    for rule in app.url_map.iter_rules():
        if _excluded(rule.endpoint):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            cls = getattr(view, "view_class", None)
            routes[(method, rule.rule)] = getattr(cls, method.lower()) if cls is not None else view
    return routes


def test_table_covers_every_endpoint(app):
    routes = set(registered_routes(app))
    missing, stale = sorted(routes - set(TABLE)), sorted(set(TABLE) - routes)
    assert not missing, f"endpoints without an access-matrix entry: {missing}"
    assert not stale, f"access-matrix entries for endpoints that no longer exist: {stale}"
    for key, entry in TABLE.items():
        assert set(entry.roles) == set(ROLES), key
        assert (entry.obj is not None) == ("<" in key[1]), f"{key}: object URLs need an object resolver"


def test_every_view_declares_its_action(app):
    """Every view is decorated with @authorize(action) or @public, and the table agrees with the policy."""
    for key, fn in registered_routes(app).items():
        name = endpoint_key(fn)
        assert name in ENDPOINT_ACTIONS, f"{key} ({name}) has neither @authorize nor @public"
        if key not in TABLE:
            continue  # reported by test_table_covers_every_endpoint
        action, expected = ENDPOINT_ACTIONS[name], TABLE[key].roles
        if action == "public":
            assert expected["anonymous"] == OK, f"{key} is public but the table expects {expected['anonymous']}"
            continue
        assert action in access.POLICY, f"{key} checks {action!r}, which the policy does not know"
        allowed = {r for r, outcome in expected.items() if outcome in (OK, SCOPED)}
        assert allowed == set(access.POLICY[action]), f"{key}: table {sorted(allowed)} vs policy {action}"


def _classify(status: int) -> object:
    if status in (401, 403, 404):
        return status
    if 200 <= status < 300 or (400 <= status < 500 and status != 405):
        return OK
    return f"unexpected {status}"


def _url(rule: str, values: dict) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule)


def _call(client, method: str, url: str, headers: dict, body: dict | None):
    kwargs = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return client.open(url, method=method, **kwargs)


def _owner(world: World, role: str, side: str) -> int:
    if role == "admin":  # one admin: a foreign notification is someone else's
        return world.users["admin" if side == "A" else "officer_B"].id
    return world.users[USER_KEY[role].format(side)].id


@pytest.fixture
def ctx(client, world) -> Ctx:
    headers = {"anonymous": {}}
    for role, username in CALLER.items():
        headers[role] = auth_header(client, username)
    notes = {}
    with db.tx() as s:
        for role in SIGNED_IN:
            for side in ("A", "B"):
                notes[(role, side)] = notify(s, _owner(world, role, side), "test", "access matrix").id
    notes[("anonymous", "A")], notes[("anonymous", "B")] = notes[("subject", "A")], notes[("subject", "B")]
    return Ctx(world, headers, notes)


def test_access_matrix(app, client, ctx):
    """Walk the table against the running app; report every cell that differs, not only the first."""
    wrong = []
    order = sorted(TABLE, key=lambda k: (k in LAST, k))
    for method, rule in order:
        entry = TABLE[(method, rule)]
        for role in ROLES:
            expected = entry.roles[role]
            sides = ("A", "B") if entry.obj is not None else ("A",)
            for side in sides:
                values = entry.obj(ctx, role, side) if entry.obj is not None else {}
                resp = _call(client, method, _url(rule, values), ctx.headers[role], entry.body)
                want = (OK if side == "A" else 404) if expected == SCOPED else expected
                got = _classify(resp.status_code)
                if got != want:
                    wrong.append(f"{method} {rule} as {role} ({side}): want {want}, got {resp.status_code}")
                    continue
                if want == 404 and expected == SCOPED:
                    # a foreign object must be indistinguishable from one that does not exist
                    ghost = {k: NONEXISTENT_ID for k in values}
                    other = _call(client, method, _url(rule, ghost), ctx.headers[role], entry.body)
                    if (other.status_code, other.get_json()) != (404, resp.get_json()):
                        wrong.append(f"{method} {rule} as {role}: foreign 404 differs from a missing object's")
                if isinstance(want, int):
                    code = {401: ("UNAUTHENTICATED",), 403: ("FORBIDDEN",), 404: ("NOT_FOUND",)}[want]
                    if (resp.get_json() or {}).get("code") not in code:
                        wrong.append(f"{method} {rule} as {role}: {want} without the error body: {resp.get_data()!r}")
    assert not wrong, "access matrix differs from the table:\n" + "\n".join(wrong)


def _second_office(world: World) -> dict:
    """Office A2 with grid A2 in district A, and a subject there (officer A is not assigned to it)."""
    with db.tx() as s:
        office = create_unit(s, level="office", name="所A2", code="OA2", parent_id=world.units["district_A"])
        grid = create_unit(s, level="grid", name="网格A2", code="GA2", parent_id=office.id)
        ids = {"office_A2": office.id, "grid_A2": grid.id}
    subject = make_subject(office_id=ids["office_A2"], grid_id=ids["grid_A2"], officer_id=None, username="subjectA2")
    return {**ids, "subject_A2": subject}


def _ids(resp) -> set[int]:
    assert resp.status_code == 200, resp.get_json()
    return {row["id"] for row in resp.get_json()}


def test_bureau_sees_every_office_of_its_district_only(client, world):
    extra = _second_office(world)
    a, a2, b = world.subjects["A"].id, extra["subject_A2"].id, world.subjects["B"].id
    bureau, officer = auth_header(client, "bureauA"), auth_header(client, "officerA")
    assert _ids(client.get("/api/v1/staff/subjects?page_size=200", headers=bureau)) == {a, a2}
    assert _ids(client.get("/api/v1/staff/subjects?page_size=200", headers=officer)) == {a}
    assert _ids(client.get("/api/v1/staff/subjects?page_size=200", headers=auth_header(client, "bureauB"))) == {b}
    # a filter naming a foreign office finds nothing rather than leaking its subjects
    assert _ids(client.get(f"/api/v1/staff/subjects?office_id={world.units['office_B']}", headers=bureau)) == set()
    assert client.get(f"/api/v1/staff/subjects/{a2}", headers=bureau).status_code == 200
    assert client.get(f"/api/v1/staff/subjects/{a2}", headers=officer).status_code == 404
    assert client.get(f"/api/v1/staff/subjects/{b}", headers=bureau).status_code == 404
    # enrolment: the bureau may not enrol (officers do), an officer only into an office of theirs
    body = {
        "name": "新对象",
        "gender": "female",
        "id_number": idcard.make("110105", date(1949, 12, 31), 2),
        "correction_type": "probation",
        "start_date": "2026-03-01",
        "end_date": "2027-03-01",
        "office_id": extra["office_A2"],
        "grid_id": extra["grid_A2"],
    }
    assert client.post("/api/v1/staff/subjects", json=body, headers=bureau).status_code == 403
    resp = client.post("/api/v1/staff/subjects", json=body, headers=officer)
    assert resp.status_code == 422 and resp.get_json()["code"] == "ORG_UNIT_INVALID"


def test_grid_worker_sees_own_grid_with_limited_fields(client, world):
    extra = _second_office(world)
    second = make_subject(
        office_id=world.units["office_A"],
        grid_id=world.units["grid_A"],
        officer_id=world.users["officer_A"].id,
        username="subjectA3",
    )
    make_subject(
        office_id=world.units["office_A"],
        grid_id=world.units["grid_A"],
        officer_id=None,
        username="releasedA",
        status="released",
    )
    resp = client.get("/api/v1/grid/subjects?page_size=100", headers=auth_header(client, "gridA"))
    assert _ids(resp) == {world.subjects["A"].id, second.id}
    text = resp.get_data(as_text=True)
    for row in resp.get_json():
        assert row["grid_id"] == world.units["grid_A"]
        leaked = [k for k in row if any(p in k for p in ("id_number", "phone", "latitude", "longitude", "location"))]
        assert not leaked, f"grid workers must not see {leaked}"
    for s in (world.subjects["A"], second, world.subjects["B"], extra["subject_A2"]):
        number = s.__dict__["_plain_id_number"]
        assert number not in text and idcard.mask(number) not in text, "an ID number reached a grid worker"
    assert _ids(client.get("/api/v1/grid/subjects", headers=auth_header(client, "gridB"))) == {world.subjects["B"].id}


def test_admin_sees_no_subject_records(client, world):
    admin = auth_header(client, "admin")
    users = client.get("/api/v1/admin/users?page_size=200", headers=admin).get_json()
    assert users and all(u["role"] != "subject" for u in users)
    subject_user = world.users["subject_A"].id
    resp = client.patch(f"/api/v1/admin/users/{subject_user}", json={"active": False}, headers=admin)
    assert resp.status_code == 404
    assert client.get(f"/api/v1/staff/subjects/{world.subjects['A'].id}", headers=admin).status_code == 403


def test_subject_sees_only_itself(client, world):
    me = client.get("/api/v1/me", headers=auth_header(client, "subjectA")).get_json()
    assert me["subject"]["id"] == world.subjects["A"].id
    assert "id_number" not in me["subject"]
