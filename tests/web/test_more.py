"""在矫通's other screens in a real browser: 销假, 公益活动, 我要加分, 我的权益."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import expect

from backend.services.activities import periods
from tests.web.conftest import INSIDE, login
from tests.web.journeys import PASSWORD, activated
from tests.web.photos import CAMERA, PHONE, taken_now

HERE = (INSIDE["latitude"], INSIDE["longitude"])


def test_return_report_after_an_approved_leave(page, server, tmp_path):
    s = activated(server)
    today = periods.local_date(periods.now())  # the product's today (from 16:00 UTC a day ahead)
    status, leave = server.call(
        "POST",
        "/me/requests",
        {
            "client_id": "leave-for-return",
            "type": "leave",
            "destination": "桐庐县",
            "reason": "办理户籍",
            "start_date": today.isoformat(),
            "end_date": (today + timedelta(days=1)).isoformat(),
        },
        token=s["token"],
    )
    assert status == 201, leave
    officer = server.login("officer1")
    status, decided = server.call(
        "POST", f"/staff/requests/{leave['id']}/decision", {"decision": "approve"}, token=officer
    )
    assert status == 200 and decided["status"] == "approved", decided

    login(page, s["username"], PASSWORD)
    page.get_by_role("link", name="外出申请", exact=True).click()
    item = page.get_by_role("listitem").filter(has_text="桐庐县")
    expect(item).to_contain_text("已批准")
    item.get_by_role("button", name="销假").click()
    page.get_by_label("拍照销假").set_input_files(taken_now(CAMERA[0], tmp_path))
    expect(page.get_by_text("销假已提交:已销假")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("listitem").filter(has_text="桐庐县")).to_contain_text("已销假")
    status, mine = server.call("GET", "/me/requests?type=leave", token=s["token"])
    assert status == 200 and mine[0]["status"] == "returned", mine


def test_community_service_report_with_a_photo(page, server, tmp_path):
    s = activated(server)
    login(page, s["username"], PASSWORD)
    page.get_by_role("link", name="公益活动", exact=True).click()
    page.get_by_label("活动内容").fill("社区环境清洁")
    page.get_by_label("地点").fill("富春街道新桥社区")
    page.get_by_label("组织单位").fill("新桥社区居委会")
    page.get_by_label("拍摄活动照片").set_input_files(taken_now(PHONE, tmp_path, gps=HERE))
    expect(page.get_by_text("已拍 1 张照片")).to_be_visible()
    page.get_by_role("button", name="提交", exact=True).click()
    expect(page.get_by_text("已提交,待司法所确认")).to_be_visible(timeout=30_000)
    mine = page.get_by_label("我的公益活动")
    expect(mine).to_contain_text("社区环境清洁 待确认")
    expect(mine).to_contain_text("富春街道新桥社区,2 小时")
    status, reports = server.call("GET", "/me/service-reports", token=s["token"])
    assert status == 200 and len(reports) == 1 and len(reports[0]["upload_ids"]) == 1, reports
    assert reports[0]["organisation"] == "新桥社区居委会" and reports[0]["minutes"] == 120


def test_merit_application_and_the_grades_benefits(page, server):
    s = activated(server)
    status, types = server.call("GET", "/me/merit-types", token=s["token"])
    assert status == 200 and types, types
    login(page, s["username"], PASSWORD)
    page.get_by_role("link", name="我要加分", exact=True).click()
    page.get_by_label("加分事项").select_option(types[0]["code"])
    page.get_by_label("事情经过").fill("在小区见义勇为,协助民警制止盗窃")
    page.get_by_label("发生日期").fill((date.today() - timedelta(days=1)).isoformat())
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_text("已提交,等待审核")).to_be_visible()
    expect(page.get_by_label("我的加分申请")).to_contain_text(f"{types[0]['name']} 待确认")
    status, apps = server.call("GET", "/me/merit-applications", token=s["token"])
    assert status == 200 and [a["merit_type"] for a in apps] == [types[0]["code"]], apps

    status, score = server.call("GET", "/me/score", token=s["token"])
    assert status == 200
    page.get_by_role("button", name="返回").click()
    page.get_by_role("link", name="我的权益", exact=True).click()
    expect(page.get_by_label("我的等级")).to_contain_text(f"{score['total']} 分 {score['grade_name']}")
    benefits = page.get_by_label("本等级的权益")
    if score["benefits"]:
        for b in score["benefits"]:
            expect(benefits).to_contain_text(b["name"])
    else:
        expect(benefits).to_contain_text("本等级暂无激励措施")
