"""学习 in a real browser: an offline / 集中教育 session logged with its camera photo, shown in 学习, confirmed."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.conftest import wait_for
from tests.web.conftest import login
from tests.web.journeys import PASSWORD, activated
from tests.web.photos import CAMERA, taken_now


def _local(minutes: int) -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


def test_centralised_education_is_logged_with_its_photo_and_shown_in_study(page, server, tmp_path):
    s = activated(server)
    login(page, s["username"], PASSWORD)
    page.get_by_role("link", name="学习", exact=True).click()
    month = page.get_by_label("本月学习")
    expect(month).to_contain_text("已计入 0 分钟")
    form = page.get_by_role("form", name="线下学习登记")
    form.get_by_label("学习方式").select_option("centralised")
    form.get_by_label("学习内容").fill("社区矫正法学习")
    form.get_by_label("开始时间").fill(_local(-90))
    form.get_by_label("结束时间").fill(_local(-100))  # before the start
    # no photo yet: said before anything is sent
    form.get_by_role("button", name="提交登记").click()
    expect(form.get_by_role("alert")).to_have_text("请拍一张学习现场的照片")
    declared: list[str] = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/api/v1/uploads") and declared.append(r.url))
    form.get_by_label("拍摄学习照片").set_input_files(taken_now(CAMERA[0], tmp_path))
    expect(form.get_by_text("已拍照片 1 张")).to_be_visible()
    form.get_by_role("button", name="提交登记").click()
    # the server's refusal in Chinese; corrected, 重试 sends the log again but not the photo
    expect(form.get_by_role("alert")).to_have_text("学习起止时间不正确", timeout=60_000)
    form.get_by_label("结束时间").fill(_local(-30))
    form.get_by_role("button", name="重试").click()
    expect(form.get_by_role("status")).to_have_text("集中教育已登记(60 分钟),待司法所确认后计入", timeout=60_000)
    assert len(declared) == 1, declared

    # shown in 学习: the month's pending minutes and the record with its photo
    expect(month).to_contain_text("已计入 0 分钟")
    expect(month).to_contain_text("待确认 60 分钟")
    records = page.get_by_label("我的学习记录")
    record = records.get_by_role("listitem").filter(has_text="社区矫正法学习")
    expect(record).to_have_count(1)
    expect(record).to_contain_text("集中教育:社区矫正法学习 待确认")
    expect(record).to_contain_text("60 分钟 · 有照片")

    status, sessions = server.call("GET", "/me/education-sessions", token=s["token"])
    assert status == 200 and len(sessions) == 1, sessions
    x = sessions[0]
    assert (x["mode"], x["status"], x["claimed_minutes"]) == ("centralised", "pending", 60) and x["upload_id"]

    # the photo went through the upload flow as the camera's own file: its EXIF reached the server
    def checked():
        status, up = server.call("GET", f"/uploads/{x['upload_id']}?purpose=education", token=s["token"])
        assert status == 200 and up["purpose"] == "education", up
        return up if up["status"] not in ("pending", "processing") else None

    up = wait_for(checked, timeout=60, interval=1)
    assert up["status"] == "accepted", up["reasons"]  # not NO_EXIF, NO_CAPTURE_TIME, NO_CAMERA_MODEL
    assert up["record"]["id"] == str(x["id"]) and "education" in up["record"]["type"], up["record"]

    # the officer confirms: 学习 counts it
    officer = server.login("officer1")
    status, verified = server.call(
        "POST", f"/staff/education-sessions/{x['id']}/verification", {"decision": "confirm"}, token=officer
    )
    assert status == 200 and verified["status"] == "verified", verified
    page.reload()
    expect(page.get_by_label("本月学习")).to_contain_text("已计入 60 分钟")
    expect(page.get_by_label("我的学习记录").get_by_role("listitem").filter(has_text="社区矫正法学习")).to_contain_text(
        "已确认"
    )
