"""在矫通 journeys in a real browser: activation and login, check-ins online, offline and suspect, a leave request."""

from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.sync_api import expect

from tests.conftest import wait_for
from tests.web.conftest import login
from tests.web.journeys import PASSWORD, activated, enrol
from tests.web.photos import CAMERA, OLD, original, taken_now


def test_subject_activates_logs_out_and_logs_in(page, server):
    e = enrol(server)
    page.goto("/")
    page.get_by_role("link", name="激活账号").click()
    page.get_by_label("激活码").fill(e["activation_code"])
    page.get_by_label("新密码", exact=True).fill(PASSWORD)
    page.get_by_label("确认新密码").fill(PASSWORD)
    page.get_by_role("button", name="激活").click()
    expect(page.get_by_role("heading", name="在矫通")).to_be_visible()
    expect(page.get_by_text(f"您好,{e['subject']['name']}")).to_be_visible()
    # the one-time code is spent: a second activation is refused with the server's Chinese message
    status, body = server.call(
        "POST", "/auth/activate", {"activation_code": e["activation_code"], "password": PASSWORD}
    )
    assert status in (400, 422), body

    page.get_by_role("link", name="我的", exact=True).click()
    page.get_by_role("button", name="退出登录").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="确定").click()
    expect(page.get_by_role("button", name="登录", exact=True)).to_be_visible()
    assert page.evaluate("localStorage.getItem('zhijiao.session')") is None

    # a wrong password shows the server's message; the right one opens the subject's home
    login(page, e["username"], "wrong-password-1", ok=False)
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("heading", name="在矫通")).to_be_visible()
    expect(page.get_by_label(re.compile("今日打卡"))).to_contain_text("本期打卡:未完成")


def _my_checkins(server, token):
    status, items = server.call("GET", "/me/checkins?page_size=50", token=token)
    assert status == 200, items
    return items


def test_check_in_with_a_camera_photo_is_counted(page, server, tmp_path):
    s = activated(server)
    login(page, s["username"], PASSWORD)
    page.get_by_role("link", name="打卡", exact=True).click()
    expect(page.get_by_role("heading", name="打卡", exact=True)).to_be_visible()
    page.get_by_label("拍照打卡").set_input_files(taken_now(CAMERA[0], tmp_path))
    position = page.get_by_role("status").filter(has_text="位置")
    expect(position).to_contain_text("30.00000, 119.70000")
    expect(position).to_contain_text("±12 米")
    result = page.get_by_role("status").filter(has_text="打卡结果")
    expect(result).to_contain_text("打卡结果:已计入(按时)", timeout=90_000)
    checkins = _my_checkins(server, s["token"])
    assert len(checkins) == 1
    c = checkins[0]
    assert c["status"] == "counted" and c["outcome"] == "on_time" and c["inside_area"] is True
    assert c["accuracy_m"] == 12 and not c["offline"]
    # the home page now says the period is done
    page.get_by_role("button", name="返回").click()
    expect(page.get_by_label(re.compile("今日打卡"))).to_contain_text("本期打卡:已完成")


def test_a_suspect_selfie_shows_its_reasons_in_plain_chinese(page, server):
    s = activated(server)
    login(page, s["username"], PASSWORD)
    page.get_by_role("link", name="打卡", exact=True).click()
    expect(page.get_by_role("heading", name="打卡", exact=True)).to_be_visible()
    # the camera's original from 2000: its EXIF capture time is far from the check-in's
    page.get_by_label("拍照打卡").set_input_files(original(OLD))
    result = page.get_by_role("status").filter(has_text="打卡结果")
    # a suspect photo does not stop the placement (docs/checkins.md#placement): counted, and the reasons shown
    expect(result).to_contain_text("打卡结果:已计入", timeout=90_000)
    reasons = result.get_by_label("照片存疑的原因")
    expect(reasons).to_contain_text("照片存疑,司法所将人工核查,原因:")
    expect(reasons.get_by_role("listitem").filter(has_text="拍摄时间与申报时间不符")).to_have_count(1)
    [c] = _my_checkins(server, s["token"])
    status, up = server.call("GET", f"/uploads/{c['upload_id']}?purpose=checkin", token=s["token"])
    assert status == 200 and up["status"] == "suspect", up
    assert "CAPTURE_TIME_MISMATCH" in [r["code"] for r in up["reasons"]]
    # every reason the server gave, in its Chinese words: neither its code nor its English message
    shown = reasons.get_by_role("listitem").all_inner_texts()
    assert shown == [r["message"] for r in up["reasons"]]
    for r in up["reasons"]:
        expect(result).not_to_contain_text(r["code"])
        expect(result).not_to_contain_text(r["message_en"])


def test_offline_check_in_is_sent_once_when_back_online(page, context, server, tmp_path):
    s = activated(server)
    login(page, s["username"], PASSWORD)
    page.get_by_role("link", name="打卡", exact=True).click()
    expect(page.get_by_role("heading", name="打卡", exact=True)).to_be_visible()
    context.set_offline(True)
    page.get_by_label("拍照打卡").set_input_files(taken_now(CAMERA[1], tmp_path))
    expect(page.get_by_text("网络不可用:已保存,联网后自动发送")).to_be_visible()
    expect(page.get_by_text("1 条待发送(联网后自动发送)")).to_be_visible()
    # every screen still opens offline, without a reload
    page.get_by_role("button", name="返回").click()
    page.get_by_role("link", name="外出申请").click()
    expect(page.get_by_role("heading", name="外出申请", exact=True)).to_be_visible()
    expect(page.get_by_text("1 条待发送")).to_be_visible()
    assert _my_checkins(server, s["token"]) == []

    context.set_offline(False)  # the browser fires `online`: the queue sends itself
    expect(page.get_by_text("条待发送")).to_have_count(0, timeout=60_000)
    c = wait_for(lambda: [x for x in _my_checkins(server, s["token"]) if x["status"] != "pending"], timeout=90)
    assert len(c) == 1, c
    assert c[0]["status"] == "counted" and c[0]["offline"] is True
    # going offline and online again sends nothing more
    context.set_offline(True)
    context.set_offline(False)
    page.wait_for_timeout(1500)
    assert len(_my_checkins(server, s["token"])) == 1


def test_leave_request_approved_by_the_officer(page, server):
    s = activated(server)
    login(page, s["username"], PASSWORD)
    page.get_by_role("link", name="外出申请").click()
    page.get_by_role("button", name="新建申请").click()
    expect(page.get_by_label("申请须知")).to_contain_text("每次不超过 30 天")
    start = date.today() + timedelta(days=2)
    page.get_by_label("申请类型").select_option("leave")
    page.get_by_label("目的地").fill("杭州市西湖区")
    page.get_by_label("事由").fill("探望住院的母亲")
    # a start in the past is explained before the server is asked
    page.get_by_label("开始日期").fill((date.today() - timedelta(days=1)).isoformat())
    page.get_by_label("结束日期").fill(start.isoformat())
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_role("alert")).to_have_text("开始日期不能早于今天")
    page.get_by_label("开始日期").fill(start.isoformat())
    page.get_by_label("结束日期").fill((start + timedelta(days=2)).isoformat())
    page.get_by_role("button", name="提交申请").click()
    item = page.get_by_role("listitem").filter(has_text="杭州市西湖区")
    expect(item).to_contain_text("待审批")
    expect(item).to_contain_text("共 3 天")

    officer = server.login("officer1")
    status, mine = server.call("GET", "/me/requests", token=s["token"])
    assert status == 200 and len(mine) == 1, mine
    status, decided = server.call(
        "POST",
        f"/staff/requests/{mine[0]['id']}/decision",
        {"decision": "approve", "note": "同意,按时销假"},
        token=officer,
    )
    assert status == 200 and decided["status"] == "approved", decided

    page.reload()
    item = page.get_by_role("listitem").filter(has_text="杭州市西湖区")
    expect(item).to_contain_text("已批准")
    expect(item).to_contain_text("审批意见:同意,按时销假")
    page.get_by_role("button", name="返回").click()
    page.get_by_role("link", name="消息", exact=True).click()
    note = page.get_by_role("button", name=re.compile("未读 您的申请已批准"))
    expect(note).to_be_visible(timeout=30_000)
    note.click()
    expect(page.get_by_role("button", name="您的申请已批准")).to_be_visible()


def test_online_education_minutes_come_from_heartbeats(page, server):
    s = activated(server)
    login(page, s["username"], PASSWORD)
    page.evaluate("localStorage.setItem('zhijiao.heartbeat_s', '5')")  # the test's shorter heartbeat interval
    page.get_by_role("link", name="学习", exact=True).click()
    month = page.get_by_label("本月学习")
    expect(month).to_contain_text("已计入 0 分钟")
    page.get_by_label("课程").fill("法治教育第一课")
    page.get_by_role("button", name="开始学习").click()
    status = page.get_by_role("status").filter(has_text="学习中")
    expect(status).to_contain_text("法治教育第一课")
    # heartbeats every 5 s for a little over a minute: the server counts the time between them
    expect(status).to_contain_text(re.compile(r"服务器已记录 1[4-9] 次心跳"), timeout=90_000)
    page.get_by_role("button", name="结束学习").click()
    expect(page.get_by_text(re.compile(r"本次学习已结束,计入 1 分钟"))).to_be_visible()
    expect(month).to_contain_text("已计入 1 分钟")
    status_code, sessions = server.call("GET", "/me/education-sessions", token=s["token"])
    assert status_code == 200 and len(sessions) == 1, sessions
    assert sessions[0]["status"] == "ended" and sessions[0]["heartbeats"] >= 14 and sessions[0]["credited_minutes"] == 1


def test_subject_appeals_an_event(page, server):
    login(page, "subject6")  # red grade: missed check-ins to appeal
    page.get_by_role("link", name="我的积分", exact=True).click()
    records = page.get_by_label("积分记录")
    link = records.get_by_role("link", name=re.compile(r"申诉:.* -\d+ 分")).first
    expect(link).to_be_visible()
    event_id = int(link.get_attribute("href").rsplit("=", 1)[1])
    link.click()
    expect(page.get_by_role("heading", name="我要申诉")).to_be_visible()
    page.get_by_label("申诉理由").fill("当天在医院就诊,有病历为证")
    page.get_by_role("button", name="提交申诉").click()
    expect(page.get_by_text("申诉已提交,等待司法所处理")).to_be_visible()
    expect(page.get_by_label("我的申诉")).to_contain_text("处理中:当天在医院就诊,有病历为证")
    token = server.login("subject6")
    status, appeals = server.call("GET", "/me/appeals", token=token)
    assert status == 200 and [a["event_id"] for a in appeals] == [event_id] and appeals[0]["status"] == "pending"
