"""The grid worker's app in a real browser: a field report with a camera photo and a high-severity keyword, a
report made offline, observed community service and its list."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.web.conftest import INSIDE, login
from tests.web.photos import PHONE, taken_now


def test_field_report_with_a_high_severity_keyword_raises_the_officers_warning(page, server, tmp_path):
    login(page, "grid1")
    expect(page.get_by_role("heading", name="网格员 · 我的对象")).to_be_visible()
    subjects = page.get_by_role("list", name="我的网格的对象")
    first = subjects.get_by_role("link").first
    expect(first).to_be_visible()
    name = first.get_attribute("aria-label").removeprefix("为").removesuffix("上报")
    subject_id = first.get_attribute("href").rsplit("=", 1)[1]
    first.click()
    expect(page.get_by_role("heading", name="走访上报")).to_be_visible()
    expect(page.get_by_label("对象")).to_have_value(subject_id)
    expect(page.get_by_text("位置:30.00000, 119.70000")).to_be_visible()
    page.get_by_label("情况描述").fill(f"走访发现{name}昨晚在村口聚众赌博,情绪激动")
    page.get_by_label("标签(用逗号分隔)").fill("走访,夜间")
    photo = taken_now(PHONE, tmp_path, gps=(INSIDE["latitude"], INSIDE["longitude"]))
    page.get_by_label("拍照").set_input_files(photo)
    expect(page.get_by_text("已拍 1 张照片")).to_be_visible()
    page.get_by_role("button", name="提交上报").click()

    expect(page.get_by_role("heading", name="我的上报")).to_be_visible(timeout=60_000)
    item = page.get_by_role("listitem").filter(has_text="聚众赌博")
    expect(item).to_contain_text(name)
    expect(item).to_contain_text("严重")
    expect(item).to_contain_text("负面")

    officer = server.login("officer1")
    grid = server.login("grid1")
    status, reports = server.call("GET", "/grid/field-reports", token=grid)
    assert status == 200, reports
    report = next(r for r in reports if "聚众赌博" in r["text"])
    assert report["severity"] == "high" and report["tags"] == ["走访", "夜间"] and len(report["upload_ids"]) == 1
    assert abs(report["latitude"] - INSIDE["latitude"]) < 1e-6

    status, items = server.call(
        "GET", f"/staff/warnings?subject_id={report['subject_id']}&kind=KEYWORD_HIGH", token=officer
    )
    assert status == 200, items
    [w] = [w for w in items if report["id"] in w["details"].get("field_report_ids", [])]
    assert w["severity"] == "high" and "赌博" in w["title"] and w["subject_name"] == name


def test_observed_community_service_and_a_refusal_shown_in_the_form(page, server, tmp_path):
    login(page, "grid1")
    page.get_by_role("link", name="公益活动见证").click()
    expect(page.get_by_role("heading", name="公益活动见证")).to_be_visible()
    options = page.get_by_label("对象").locator("option")
    expect(options.nth(1)).to_be_attached()
    subject_id = options.nth(1).get_attribute("value")
    page.get_by_label("对象").select_option(subject_id)
    page.get_by_label("活动内容").fill("敬老院帮厨")
    page.get_by_label("地点").fill("富春街道敬老院")
    page.get_by_label("时长(小时)").fill("2")
    # an end before the start: the server's refusal, in Chinese, stays on the form; nothing waits in the queue
    page.get_by_label("结束时间").fill("2020-01-01T08:00")
    page.get_by_role("button", name="提交", exact=True).click()
    expect(page.get_by_role("alert")).not_to_be_empty()
    expect(page.get_by_text("条待发送")).to_have_count(0)
    page.get_by_label("开始时间").fill(_local(-180))
    page.get_by_label("结束时间").fill(_local(-60))
    page.get_by_label("拍照").set_input_files(taken_now(PHONE, tmp_path, gps=(INSIDE["latitude"], INSIDE["longitude"])))
    page.get_by_role("button", name="提交", exact=True).click()
    expect(page.get_by_text("已提交", exact=True)).to_be_visible(timeout=30_000)
    status, items = server.call("GET", "/grid/service-reports?page_size=100", token=server.login("grid1"))
    assert status == 200, items
    rows = [
        (r["subject_id"], r["source"], r["place"], r["minutes"]) for r in items if r["activity_type"] == "敬老院帮厨"
    ]
    assert rows == [(int(subject_id), "grid_worker", "富春街道敬老院", 120)]
    [mine] = [r for r in items if r["activity_type"] == "敬老院帮厨"]
    # the list of what I observed, on this screen and under 我的上报
    observed = page.get_by_label("我见证的公益活动").get_by_role("listitem").filter(has_text="敬老院帮厨")
    expect(observed).to_have_count(1)
    expect(observed).to_contain_text(f"{mine['subject_name']} 敬老院帮厨 待确认")
    expect(observed).to_contain_text("富春街道敬老院,2 小时")
    page.get_by_role("button", name="返回").click()
    page.get_by_role("link", name="我的上报").click()
    expect(page.get_by_role("heading", name="我的上报")).to_be_visible()
    observed = page.get_by_label("我见证的公益活动").get_by_role("listitem").filter(has_text="敬老院帮厨")
    expect(observed).to_contain_text(f"{mine['subject_name']} 敬老院帮厨 待确认")
    # the officer's verification shows there
    status, done = server.call(
        "POST",
        f"/staff/service-reports/{mine['id']}/verification",
        {"decision": "verify"},
        token=server.login("officer1"),
    )
    assert status == 200 and done["status"] == "verified", done
    page.reload()
    expect(observed).to_contain_text(f"{mine['subject_name']} 敬老院帮厨 已确认")


def _reports_with(server, marker: str) -> list[dict]:
    status, reports = server.call("GET", "/grid/field-reports?page_size=100", token=server.login("grid1"))
    assert status == 200, reports
    return [r for r in reports if marker in r["text"]]


def test_a_field_report_made_offline_waits_and_is_sent_once_online(page, context, server, tmp_path):
    login(page, "grid1")
    first = page.get_by_role("list", name="我的网格的对象").get_by_role("link").first
    expect(first).to_be_visible()
    name = first.get_attribute("aria-label").removeprefix("为").removesuffix("上报")
    first.click()
    expect(page.get_by_role("heading", name="走访上报")).to_be_visible()
    expect(page.get_by_text("位置:30.00000, 119.70000")).to_be_visible()
    marker = f"离线走访{uuid.uuid4().hex[:8]}"

    context.set_offline(True)  # no network in the village
    page.get_by_label("情况描述").fill(f"{marker}:{name}在家务农,情况稳定")
    page.get_by_label("拍照").set_input_files(taken_now(PHONE, tmp_path, gps=(INSIDE["latitude"], INSIDE["longitude"])))
    page.get_by_role("button", name="提交上报").click()
    expect(page.get_by_text("网络不可用:已保存,联网后自动发送")).to_be_visible()
    expect(page.get_by_text("1 条待发送(联网后自动发送)")).to_be_visible()
    # other screens open offline without a reload, the queue's state on them
    page.get_by_role("button", name="返回").click()
    expect(page.get_by_role("heading", name="网格员 · 我的对象")).to_be_visible()
    expect(page.get_by_text("1 条待发送")).to_be_visible()
    assert _reports_with(server, marker) == []

    context.set_offline(False)  # `online`: the queue sends itself (photo upload, then the create)
    expect(page.get_by_text("条待发送")).to_have_count(0, timeout=60_000)
    [report] = _reports_with(server, marker)
    assert len(report["upload_ids"]) == 1 and report["polarity"] != "negative", report
    # offline and online again: nothing is sent twice
    context.set_offline(True)
    context.set_offline(False)
    page.wait_for_timeout(1500)
    assert len(_reports_with(server, marker)) == 1
    page.get_by_role("link", name="我的上报").click()
    expect(page.get_by_role("list", name="我的上报").get_by_role("listitem").filter(has_text=marker)).to_have_count(1)


def _local(minutes: int) -> str:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    return (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")
