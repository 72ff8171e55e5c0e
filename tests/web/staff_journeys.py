"""Steps shared by the 矫务通 work journeys (tests/web/test_staff_work.py): a staff user's own browser, a
subject's requests and a suspect check-in photo made through the API, the confirm dialog."""

from __future__ import annotations

import hashlib
import io
import json
import os
import urllib.request
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image

from tests.conftest import wait_for
from tests.web.conftest import INSIDE, Server, login, phone
from tests.web.photos import CAMERA, taken_now


class StaffBrowser:
    """A phone-sized browser context of its own (its own login), its page and the page's script errors."""

    def __init__(self, browser, server: Server, username: str) -> None:
        self.context = phone(browser, server.base)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        login(self.page, username)

    def open(self, path: str):
        """Open a screen of the app by its hash path (e.g. "/inbox"), as a link or the tab bar would."""
        self.page.goto("/app/#" + path)
        return self.page

    def close(self) -> None:
        self.context.close()
        assert not self.errors, self.errors


def confirm_dialog(page, title: str | None = None) -> None:
    """Answer the real confirm dialog (role dialog) with 确定."""
    from playwright.sync_api import expect

    # the confirm dialog, not a toast (Vant's toasts also have the role dialog)
    dialog = page.get_by_role("dialog").filter(has=page.get_by_role("button", name="确定"))
    expect(dialog).to_be_visible()
    if title:
        expect(dialog).to_contain_text(title)
    dialog.get_by_role("button", name="确定").click()
    expect(dialog).to_be_hidden()


def request_leave(server: Server, subject: dict, *, days: int, destination: str, start_in: int = 2) -> dict:
    """The subject asks for leave through the API: ``days`` days from ``start_in`` days on."""
    start = date.today() + timedelta(days=start_in)
    body = {
        "type": "leave",
        "destination": destination,
        "reason": "探望住院的亲属",
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=days - 1)).isoformat(),
        "business": False,
        "client_id": f"sw-leave-{uuid.uuid4()}",
    }
    status, out = server.call("POST", "/me/requests", body, token=subject["token"])
    assert status == 201, out
    return out


def _plain_jpeg() -> bytes:
    """A JPEG without any EXIF (no camera, no capture time): a check-in photo the checks find suspect."""
    im = Image.frombytes("RGB", (320, 240), os.urandom(320 * 240 * 3))  # never a duplicate of another photo
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def upload(server: Server, token: str, data: bytes, purpose: str) -> int:
    """The documented upload flow through the API (declare, bytes, complete): the upload's id."""
    status, declared = server.call(
        "POST",
        "/uploads",
        {
            "purpose": purpose,
            "content_type": "image/jpeg",
            "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "client_id": f"sw-up-{uuid.uuid4()}",
        },
        token=token,
    )
    assert status == 201, declared
    send = declared["upload"]
    assert send["method"] == "PUT", send  # local storage: the bytes go to the API itself
    req = urllib.request.Request(send["url"], data=data, method="PUT")
    for k, v in (send.get("headers") or {}).items():
        req.add_header(k, v)
    req.add_header("Content-Type", "image/jpeg")
    req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200, resp.read()
    status, done = server.call("POST", f"/uploads/{declared['id']}/complete", token=token)
    assert status == 200, done
    return declared["id"]


def camera_photo(tmp_path: Path, n: int = 0) -> bytes:
    """A real camera JPEG (tests/photos) with its capture time set to now."""
    return taken_now(CAMERA[n % len(CAMERA)], tmp_path).read_bytes()


def checkin(server: Server, subject: dict, photo: bytes, *, at: dict = INSIDE) -> dict:
    """The subject checks in through the API with ``photo`` at the position ``at``."""
    body = {
        "client_id": f"sw-ci-{uuid.uuid4()}",
        "captured_at": datetime.now(ZoneInfo("Asia/Shanghai")).isoformat(),
        "latitude": at["latitude"],
        "longitude": at["longitude"],
        "accuracy_m": at["accuracy"],
        "upload_id": upload(server, subject["token"], photo, "checkin"),
    }
    status, out = server.call("POST", "/me/checkins", body, token=subject["token"])
    assert status == 201, out
    return out


def suspect_checkin(server: Server, subject: dict) -> dict:
    """The subject checks in through the API with a photo lacking EXIF; returns the upload once it is suspect
    and under review (the officer's `suspect_evidence` inbox item)."""
    token = subject["token"]
    upload_id = checkin(server, subject, _plain_jpeg())["upload_id"]

    def reviewed():
        s, up = server.call("GET", f"/uploads/{upload_id}", token=token)
        assert s == 200, up
        return up if up["status"] == "suspect" and (up.get("review") or {}).get("status") == "open" else None

    return wait_for(reviewed, timeout=120, interval=1)


def field_report(server: Server, subject: dict, photo: bytes, text: str) -> dict:
    """grid1 reports on the subject (of grid1's grid) with one photo, observed now."""
    token = server.login("grid1")
    body = {
        "subject_id": subject["subject"]["id"],
        "text": text,
        "tags": ["走访"],
        "observed_at": datetime.now(ZoneInfo("Asia/Shanghai")).isoformat(),
        "upload_ids": [upload(server, token, photo, "field")],
        "client_id": f"sw-fr-{uuid.uuid4()}",
    }
    status, out = server.call("POST", "/grid/field-reports", body, token=token)
    assert status == 201, out
    return out


def service_report(server: Server, subject: dict, photo: bytes, *, activity: str, hours: int) -> dict:
    """The subject reports community service ending an hour ago, with one photo."""
    end = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(hours=1)
    body = {
        "activity_type": activity,
        "started_at": (end - timedelta(hours=hours)).isoformat(),
        "ended_at": end.isoformat(),
        "place": "富春街道文化广场",
        "organisation": "富春社区居委会",
        "hours": hours,
        "upload_ids": [upload(server, subject["token"], photo, "service")],
        "client_id": f"sw-sr-{uuid.uuid4()}",
    }
    status, out = server.call("POST", "/me/service-reports", body, token=subject["token"])
    assert status == 201, out
    return out


def offline_session(server: Server, subject: dict, photo: bytes, *, course: str, minutes: int) -> dict:
    """The subject records an offline education session ending an hour ago, with its photo."""
    end = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(hours=1)
    body = {
        "mode": "offline",
        "course": course,
        "started_at": (end - timedelta(minutes=minutes)).isoformat(),
        "ended_at": end.isoformat(),
        "minutes": minutes,
        "upload_id": upload(server, subject["token"], photo, "education"),
        "client_id": f"sw-ed-{uuid.uuid4()}",
    }
    status, out = server.call("POST", "/me/education-sessions", body, token=subject["token"])
    assert status == 201, out
    return out


def audit(server: Server, action: str, **filters) -> list[dict]:
    """Audit rows of ``action`` as the admin API lists them."""
    q = "&".join(f"{k}={v}" for k, v in {"action": action, "page_size": 200, **filters}.items())
    status, rows = server.call("GET", "/admin/audit?" + q, token=server.login("admin1"))
    assert status == 200, rows
    return rows


def dump(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)
