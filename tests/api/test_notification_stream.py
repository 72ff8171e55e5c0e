"""GET /me/notifications/stream: Server-Sent Events read with the Authorization header, resumable with
Last-Event-ID, bounded, holding no database connection while it waits; under gunicorn's threaded workers open
streams do not starve other requests (docs/schedules.md#delivery)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import urllib.request

import pytest
from sqlalchemy import select

from backend import runtime
from backend.db import db
from backend.models.delivery import Delivery
from backend.services.core import notifications
from backend.services.core.notifications import notify
from tests.api.test_ops import http, served
from tests.factories import auth_header

URL = "/api/v1/me/notifications/stream"


def parse_sse(text: str) -> list[dict]:
    """The events of an SSE body: {"id", "event", "data"} each (comments and ``retry`` left out)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        if "data" in fields:
            events.append({"id": fields.get("id"), "event": fields.get("event"), "data": json.loads(fields["data"])})
    return events


def _notify(user_id: int, title: str, kind: str = "request_decided") -> int:
    with db.tx() as s:
        return notify(s, user_id, kind, title, "正文").id


def _app_state(notification_id: int) -> str:
    with db.tx() as s:
        query = select(Delivery.state).where(Delivery.notification_id == notification_id, Delivery.channel == "app")
        return s.scalar(query)


def test_once_sends_the_unread_notifications_as_events(world, client):
    user = world.users["subject_A"].id
    first, second = _notify(user, "一"), _notify(user, "二")
    other = _notify(world.users["subject_B"].id, "别人的")
    resp = client.get(URL + "?once=true", headers=auth_header(client, "subjectA"))
    assert resp.status_code == 200
    assert resp.mimetype == "text/event-stream" and resp.headers["Cache-Control"] == "no-store"
    text = resp.get_data(as_text=True)
    assert text.startswith("retry: 3000\n\n")
    events = parse_sse(text)
    assert [(e["id"], e["event"]) for e in events] == [(str(first), "notification"), (str(second), "notification")]
    assert events[0]["data"]["title"] == "一" and events[0]["data"]["deliveries"][0]["channel"] == "app"
    assert _app_state(first) == "sent" and _app_state(second) == "sent"  # written to an open app
    assert _app_state(other) == "queued"


def test_last_event_id_resumes_after_that_notification(world, client):
    user = world.users["subject_A"].id
    ids = [_notify(user, f"第{i}条") for i in range(3)]
    headers = auth_header(client, "subjectA")
    resp = client.get(URL, query_string={"once": "true"}, headers={**headers, "Last-Event-ID": str(ids[0])})
    assert [e["id"] for e in parse_sse(resp.get_data(as_text=True))] == [str(i) for i in ids[1:]]
    resp = client.get(URL, query_string={"once": "true"}, headers={**headers, "Last-Event-ID": str(ids[-1])})
    assert parse_sse(resp.get_data(as_text=True)) == []


def test_a_read_notification_is_not_sent_again_without_last_event_id(world, client):
    user = world.users["subject_A"].id
    unread, read = _notify(user, "未读"), _notify(user, "已读")
    headers = auth_header(client, "subjectA")
    assert client.post(f"/api/v1/me/notifications/{read}/read", headers=headers).status_code == 200
    resp = client.get(URL + "?once=true", headers=headers)
    text = resp.get_data(as_text=True)
    assert [e["id"] for e in parse_sse(text)] == [str(unread)]
    # the cursor moves past the newest notification (read or not): a reconnect does not send the unread again
    assert text.endswith(f"id: {read}\n\n")
    resp = client.get(URL + "?once=true", headers={**headers, "Last-Event-ID": str(read)})
    assert parse_sse(resp.get_data(as_text=True)) == []


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "99999999999", "１２"])
def test_a_malformed_last_event_id_is_a_400(world, client, value):
    headers = {**auth_header(client, "subjectA"), "Last-Event-ID": value}
    resp = client.get(URL + "?once=true", headers=headers)
    assert resp.status_code == 400 and resp.get_json()["code"] == "VALIDATION_FAILED"
    assert "Last-Event-ID" in resp.get_json()["errors"]


def test_without_a_token_it_is_a_401(client):
    assert client.get(URL + "?once=true").status_code == 401


def test_the_document_describes_it_as_an_event_stream(client):
    op = client.get("/openapi.json").get_json()["paths"]["/api/v1/me/notifications/stream"]["get"]
    assert op["operationId"] == "streamMyNotifications"
    assert "text/event-stream" in op["responses"]["200"]["content"]
    params = {(p["name"], p["in"]) for p in op["parameters"]}
    assert {("once", "query"), ("Last-Event-ID", "header")} <= params


def test_an_open_stream_sends_what_is_stored_meanwhile_and_ends_on_time(world, client, settings):
    user = world.users["subject_A"].id
    headers = auth_header(client, "subjectA")
    runtime.configure(dataclasses.replace(runtime.settings(), notification_stream_s=5))
    later: list[int] = []

    def store_later():
        time.sleep(0.5)
        later.append(_notify(user, "稍后"))

    t = threading.Thread(target=store_later)
    started = time.monotonic()
    t.start()
    resp = client.get(URL, headers=headers, buffered=False)
    chunks, arrived = [], None
    for chunk in resp.response:
        chunks.append(chunk.decode() if isinstance(chunk, bytes) else chunk)
        if arrived is None and later and any(f"id: {later[0]}\n" in c for c in chunks):
            arrived = time.monotonic() - started
    resp.close()
    elapsed = time.monotonic() - started
    t.join()
    assert [e["id"] for e in parse_sse("".join(chunks))] == [str(later[0])]
    assert arrived is not None and arrived < 4.5  # within a poll or two of being stored, not at the end
    assert 4.9 <= elapsed < 15, elapsed  # bounded: the client reconnects with Last-Event-ID


def test_no_connection_is_held_while_the_stream_waits(world):
    user = world.users["subject_A"].id
    _notify(user, "一")
    db.remove()
    held: list[int] = []
    now = [0.0]

    def sleep(s: float) -> None:  # a fake clock: time passes only while the stream waits
        held.append(db.engine.pool.checkedout())
        now[0] += s

    batches = list(notifications.watch(user, None, 3, poll_s=1, clock=lambda: now[0], sleep=sleep))
    assert [len(b) for b, _cursor in batches] == [1] and len(held) == 3
    assert set(held) == {0}


def test_threaded_workers_answer_other_requests_while_streams_are_open(world, test_env, tmp_path):
    user = world.users["subject_A"].id
    env = {**test_env, "NOTIFICATION_STREAM_SECONDS": "6", "WEB_THREADS": "6"}
    with served(env, tmp_path / "gunicorn.log", workers=1) as (base, _proc):
        status, _h, body = http(
            "POST", base + "/api/v1/auth/login", {"username": "subjectA", "password": "Passw0rd!", "device_id": "t"}
        )
        assert status == 200
        token = json.loads(body)["access_token"]
        got: list[str] = []

        def listen():
            req = urllib.request.Request(base + URL, headers={"Authorization": "Bearer " + token})
            with urllib.request.urlopen(req, timeout=20) as resp:
                got.append(resp.read().decode())

        streams = [threading.Thread(target=listen) for _ in range(3)]
        for t in streams:
            t.start()
        time.sleep(1.0)
        started = time.monotonic()
        status, _h, _b = http("GET", base + "/healthz")
        # one worker, three open streams of 6 s: a sync worker would answer only once they ended
        assert status == 200 and time.monotonic() - started < 3.0
        nid = _notify(user, "实时")
        for t in streams:
            t.join(timeout=30)
    assert len(got) == 3
    for text in got:
        assert [e["id"] for e in parse_sse(text)] == [str(nid)]
