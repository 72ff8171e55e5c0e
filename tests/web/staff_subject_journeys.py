"""Steps of the 矫务通 对象 journeys: a check-in through the API (a location point), the audit log read by the admin,
a subject activated in a second phone, and the staff app's 对象 screens opened from the list."""

from __future__ import annotations

import hashlib
import re
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.web.conftest import INSIDE, Server, phone

FACES = Path("/work/shared/faces")


def check_in(server: Server, token: str, photo: Path, at: dict = INSIDE) -> dict:
    """A check-in of the subject whose access token this is, at ``at``, with ``photo`` (declare → bytes → complete)."""
    data = photo.read_bytes()
    status, declared = server.call(
        "POST",
        "/uploads",
        {
            "purpose": "checkin",
            "content_type": "image/jpeg",
            "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "client_id": str(uuid.uuid4()),
        },
        token=token,
    )
    assert status == 201, declared
    send = declared["upload"]
    assert send["method"] == "PUT", send  # the local storage of the test server
    req = urllib.request.Request(send["url"], data=data, method="PUT")
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "image/jpeg")
    for k, v in (send.get("headers") or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200, resp.read()
    status, done = server.call("POST", f"/uploads/{declared['id']}/complete", {}, token=token)
    assert status == 200, done
    body = {
        "client_id": str(uuid.uuid4()),
        "latitude": at["latitude"],
        "longitude": at["longitude"],
        "accuracy_m": at["accuracy"],
        "captured_at": datetime.now(ZoneInfo("Asia/Shanghai")).isoformat(),
        "upload_id": declared["id"],
    }
    status, checkin = server.call("POST", "/me/checkins", body, token=token)
    assert status == 201, checkin
    return checkin


def audit_rows(server: Server, action: str, target_id: int) -> list[dict]:
    """The audit log's rows of ``action`` on subject ``target_id``, as the admin's API lists them."""
    admin = server.login("admin1")
    status, rows = server.call(
        "GET", f"/admin/audit?action={action}&target_type=subject&target_id={target_id}&page_size=100", token=admin
    )
    assert status == 200, rows
    return rows


def open_subject(page, name: str) -> int:
    """From the staff app's 对象 list, find ``name`` and open the profile; the subject's id."""
    page.goto("/app/#/subjects")
    expect(page.get_by_role("heading", level=1, name="矫正对象")).to_be_visible()
    page.get_by_role("searchbox", name="姓名").fill(name)
    page.get_by_role("button", name="查询").click()
    link = page.get_by_role("list", name="对象列表").get_by_role("link", name=re.compile(rf"^{re.escape(name)} "))
    expect(link).to_have_count(1, timeout=20_000)
    href = link.get_attribute("href")
    link.click()
    expect(page.get_by_role("heading", level=1, name=f"对象 · {name}")).to_be_visible(timeout=20_000)
    return int(href.rsplit("=", 1)[1])


def shown_code(page) -> str:
    """The activation code the screen shows once."""
    card = page.get_by_role("status", name="激活码")
    expect(card).to_be_visible(timeout=30_000)
    return card.locator(".ss-codetext").inner_text().strip()


def activate_in_subject_app(browser, server: Server, code: str, password: str) -> None:
    """In a second phone (its own browser context), the subject activates with ``code`` and sees 在矫通."""
    ctx = phone(browser, server.base)
    try:
        pg = ctx.new_page()
        pg.goto("/")
        pg.get_by_role("link", name="激活账号").click()
        pg.get_by_label("激活码").fill(code)
        pg.get_by_label("新密码", exact=True).fill(password)
        pg.get_by_label("确认新密码").fill(password)
        pg.get_by_role("button", name="激活").click()
        expect(pg.get_by_role("heading", name="在矫通")).to_be_visible()
    finally:
        ctx.close()


def activation_refused(server: Server, code: str, password: str) -> bool:
    """Whether activating with ``code`` is refused with a 4xx and the server's Chinese message."""
    status, body = server.call("POST", "/auth/activate", {"activation_code": code, "password": password})
    return 400 <= status < 500 and bool(body.get("message"))


def confirm_dialog(page):
    """The open confirm dialog (role dialog with 确定 / 取消; a Vant toast is a dialog too, without buttons)."""
    return page.get_by_role("dialog").filter(has=page.get_by_role("button", name="取消"))
