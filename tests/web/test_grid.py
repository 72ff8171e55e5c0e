"""The grid worker's app in a real browser: a field report with a camera photo and a high-severity keyword."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import create_engine, text

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
    # the API lists no grid worker's observed reports: read the server's own database
    engine = create_engine(server.env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT subject_id, source, place, minutes FROM service_reports WHERE activity_type = '敬老院帮厨'"
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [(int(subject_id), "grid_worker", "富春街道敬老院", 120)]


def _local(minutes: int) -> str:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    return (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")
