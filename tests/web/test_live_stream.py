"""live.js in a real browser: after login it reads GET /me/notifications/stream with fetch and the Authorization
header (no token in any URL), dispatches `zhijiao:notification` per new notification with a toast, resumes with
Last-Event-ID so nothing comes twice, and stops on logout (docs/schedules.md#delivery)."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import expect

from tests.web.conftest import login
from tests.web.journeys import PASSWORD, activated

COLLECT = (
    "() => { window.__live = []; window.addEventListener('zhijiao:notification', e => window.__live.push(e.detail)); }"
)


def _decided_leave(server, s: dict, days: int) -> dict:
    start = date.today() + timedelta(days=days)
    body = {
        "client_id": f"stream-{days}",
        "type": "leave",
        "destination": f"杭州市{days}号",
        "reason": "探亲",
        "start_date": start.isoformat(),
        "end_date": start.isoformat(),
    }
    status, req = server.call("POST", "/me/requests", body, token=s["token"])
    assert status == 201, req
    decision = {"decision": "approve"}
    status, got = server.call("POST", f"/staff/requests/{req['id']}/decision", decision, token=server.login("officer1"))
    assert status == 200, got
    status, notes = server.call("GET", "/me/notifications?page_size=1", token=s["token"])
    assert status == 200 and notes, notes
    return notes[0]


def test_a_new_notification_arrives_live_once_with_a_toast(page, server):
    s = activated(server)
    streams: list[dict] = []

    def seen(r) -> None:
        if "/me/notifications/stream" in r.url:
            auth, last = r.headers.get("authorization", ""), r.headers.get("last-event-id")
            streams.append({"url": r.url, "auth": auth, "last": last})

    page.on("request", seen)
    login(page, s["username"], PASSWORD)
    page.evaluate(COLLECT)
    first = _decided_leave(server, s, 3)
    page.wait_for_function(f"() => window.__live.some(n => n.id === {first['id']})", timeout=15_000)
    expect(page.get_by_text(first["title"]).first).to_be_visible()  # the toast
    second = _decided_leave(server, s, 6)
    page.wait_for_function(f"() => window.__live.some(n => n.id === {second['id']})", timeout=15_000)
    page.wait_for_timeout(4000)  # more reconnects: nothing comes twice
    ids = page.evaluate("() => window.__live.map(n => n.id)")
    assert ids.count(first["id"]) == 1 and ids.count(second["id"]) == 1

    assert streams, "live.js opened no stream"
    assert all(x["auth"].startswith("Bearer ") and "token" not in x["url"] for x in streams)
    assert any(x["last"] == str(second["id"]) for x in streams)  # resumed after the last event

    page.get_by_role("link", name="我的", exact=True).click()
    page.get_by_role("button", name="退出登录").click()
    page.get_by_role("dialog").get_by_role("button", name="确定").click()
    expect(page.get_by_role("heading", level=1, name="智矫 · 登录")).to_be_visible()
    page.wait_for_timeout(500)
    count = len(streams)
    page.wait_for_timeout(5000)
    assert len(streams) == count  # logged out: no more streams
