"""Live messages in a real browser: the `zhijiao:notification` window event (live.js dispatches it for each
notification that arrives) refreshes the home's unread count and the 消息 list, and only while they are shown."""

from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.sync_api import expect

from tests.web.conftest import login
from tests.web.journeys import PASSWORD, activated

DISPATCH = "n => window.dispatchEvent(new CustomEvent('zhijiao:notification', {detail: n}))"


def _decided_leave(server, s: dict, days: int, decision: str) -> dict:
    """A leave request of ``s`` decided by officer1; the subject's newest notification (its decision)."""
    start = date.today() + timedelta(days=days)
    body = {
        "client_id": f"live-{days}",
        "type": "leave",
        "destination": f"杭州市{days}号",
        "reason": "探亲",
        "start_date": start.isoformat(),
        "end_date": start.isoformat(),
    }
    status, req = server.call("POST", "/me/requests", body, token=s["token"])
    assert status == 201, req
    note = {"decision": decision, "note": "理由不充分"} if decision == "reject" else {"decision": decision}
    status, decided = server.call("POST", f"/staff/requests/{req['id']}/decision", note, token=server.login("officer1"))
    assert status == 200, decided
    status, notes = server.call("GET", "/me/notifications?page_size=1", token=s["token"])
    assert status == 200 and notes, notes
    return notes[0]


def _unread(server, s: dict) -> int:
    status, notes = server.call("GET", "/me/notifications?page_size=50", token=s["token"])
    assert status == 200, notes
    return sum(1 for n in notes if not n["read_at"])


def test_a_live_notification_refreshes_the_unread_count_and_the_messages(page, server):
    s = activated(server)
    login(page, s["username"], PASSWORD)
    before = _unread(server, s)
    expect(page.get_by_role("link", name=f"未读消息 {before} 条")).to_be_visible()

    first = _decided_leave(server, s, 3, "approve")
    page.evaluate(DISPATCH, first)
    expect(page.get_by_role("link", name=f"未读消息 {before + 1} 条")).to_be_visible()

    page.get_by_role("link", name="消息", exact=True).click()
    expect(page.get_by_role("button", name=f"未读 {first['title']}", exact=True)).to_have_count(1)
    second = _decided_leave(server, s, 6, "reject")
    assert second["id"] != first["id"]
    page.evaluate(DISPATCH, second)
    expect(page.get_by_role("list", name="消息列表").get_by_role("listitem")).to_have_count(
        _count_all(server, s), timeout=10_000
    )
    expect(page.get_by_role("button", name=f"未读 {second['title']}", exact=True)).to_have_count(1)

    # the listeners went with their screens: the event on another screen reads no notifications
    page.get_by_role("button", name="返回").click()
    page.get_by_role("link", name="外出申请", exact=True).click()
    expect(page.get_by_role("heading", name="外出申请", exact=True)).to_be_visible()
    page.wait_for_load_state("networkidle")
    reads: list[str] = []
    page.on("request", lambda r: re.search(r"/api/v1/me/notifications(\?|$)", r.url) and reads.append(r.url))
    page.evaluate(DISPATCH, second)
    page.wait_for_timeout(1000)
    assert reads == []


def _count_all(server, s: dict) -> int:
    status, notes = server.call("GET", "/me/notifications?page_size=20", token=s["token"])
    assert status == 200, notes
    return len(notes)
