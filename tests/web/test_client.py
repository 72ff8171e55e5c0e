"""The API client in the browser: token refresh, logout on reuse revocation, the Chinese error message."""

from __future__ import annotations

import json
from datetime import date, timedelta

from playwright.sync_api import expect

from tests.conftest import wait_for
from tests.web.conftest import login
from tests.web.journeys import PASSWORD, activated


def _session(page) -> dict:
    return json.loads(page.evaluate("localStorage.getItem('zhijiao.session')"))


def test_an_expired_access_token_is_refreshed_with_the_rotating_refresh_token(page, server):
    s = activated(server)
    login(page, s["username"], PASSWORD)
    expect(page.get_by_role("heading", name="在矫通")).to_be_visible()
    before = _session(page)
    # the access token stops being accepted (as when it expires): the next call refreshes and goes on
    page.evaluate(
        "s => localStorage.setItem('zhijiao.session', JSON.stringify({...s, access: s.access.slice(0, -4) + 'AAAA'}))",
        before,
    )
    page.get_by_role("link", name="外出申请", exact=True).click()
    expect(page.get_by_text("还没有申请")).to_be_visible()
    after = _session(page)
    assert after["refresh"] != before["refresh"] and after["access"] != before["access"]
    status, _ = server.call("POST", "/auth/refresh", {"refresh_token": after["refresh"]})
    assert status == 200  # the browser kept the newest refresh token


def test_reuse_of_a_refresh_token_revokes_the_login_and_the_app_logs_out(page, server):
    s = activated(server)
    login(page, s["username"], PASSWORD)
    expect(page.get_by_role("heading", name="在矫通")).to_be_visible()
    stolen = _session(page)["refresh"]
    assert server.call("POST", "/auth/refresh", {"refresh_token": stolen})[0] == 200
    status, body = server.call("POST", "/auth/refresh", {"refresh_token": stolen})  # reuse: the login is revoked
    assert status == 401, body
    page.get_by_role("link", name="消息", exact=True).click()
    expect(page.get_by_role("button", name="登录", exact=True)).to_be_visible()
    assert page.evaluate("localStorage.getItem('zhijiao.session')") is None


def test_a_refused_create_shows_the_servers_chinese_message(page, server):
    s = activated(server)
    login(page, s["username"], PASSWORD)
    page.get_by_role("link", name="外出申请", exact=True).click()
    page.get_by_role("button", name="新建申请").click()
    page.get_by_label("申请类型").select_option("visitor")
    page.get_by_label("目的地").fill("富阳区司法所")
    page.get_by_label("事由").fill("亲属来访")
    page.get_by_label("开始日期").fill("2026-13-01")  # not a date: the browser keeps the field empty
    page.get_by_label("结束日期").fill("2099-01-02")
    page.evaluate("document.querySelector('form').noValidate = true")  # let the server judge the body
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_role("alert")).to_have_text("请求字段有误")


def test_a_request_made_offline_is_sent_once_through_sync(page, context, server):
    s = activated(server)
    login(page, s["username"], PASSWORD)
    page.get_by_role("link", name="外出申请", exact=True).click()
    page.get_by_role("button", name="新建申请").click()
    expect(page.get_by_label("申请须知")).to_be_visible()
    context.set_offline(True)
    page.get_by_label("申请类型").select_option("visitor")
    page.get_by_label("目的地").fill("家中")
    page.get_by_label("事由").fill("表哥来访")
    start = (date.today() + timedelta(days=3)).isoformat()
    page.get_by_label("开始日期").fill(start)
    page.get_by_label("结束日期").fill(start)
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_text("网络不可用:已保存,联网后自动发送")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="待发送")).to_have_text("1 条待发送(联网后自动发送)")
    assert server.call("GET", "/me/requests", token=s["token"])[1] == []
    context.set_offline(False)
    expect(page.get_by_text("条待发送")).to_have_count(0, timeout=30_000)
    status, mine = server.call("GET", "/me/requests", token=s["token"])
    assert status == 200 and [(r["type"], r["destination"], r["status"]) for r in mine] == [
        ("visitor", "家中", "pending")
    ]
    page.get_by_role("button", name="返回").click()
    expect(page.get_by_role("listitem").filter(has_text="家中")).to_contain_text("会客:家中 待审批")


def test_queued_items_are_sent_only_under_the_login_that_made_them(page, context, server):
    a, b = activated(server), activated(server)
    login(page, a["username"], PASSWORD)
    page.get_by_role("link", name="外出申请", exact=True).click()
    page.get_by_role("button", name="新建申请").click()
    expect(page.get_by_label("申请须知")).to_be_visible()
    context.set_offline(True)
    page.get_by_label("申请类型").select_option("visitor")
    page.get_by_label("目的地").fill("甲的家")
    page.get_by_label("事由").fill("朋友来访")
    start = (date.today() + timedelta(days=4)).isoformat()
    page.get_by_label("开始日期").fill(start)
    page.get_by_label("结束日期").fill(start)
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_text("1 条待发送(联网后自动发送)")).to_be_visible()
    page.evaluate("localStorage.removeItem('zhijiao.session')")  # another person takes the phone
    context.set_offline(False)

    login(page, b["username"], PASSWORD)
    expect(page.get_by_role("heading", name="在矫通")).to_be_visible()
    expect(page.get_by_text("条待发送")).to_have_count(0)
    page.wait_for_timeout(1000)
    assert server.call("GET", "/me/requests", token=b["token"])[1] == []
    assert server.call("GET", "/me/requests", token=a["token"])[1] == []

    page.get_by_role("link", name="我的", exact=True).click()
    page.get_by_role("button", name="退出登录").click()
    page.get_by_role("dialog").get_by_role("button", name="确定").click()
    login(page, a["username"], PASSWORD)
    wait_for(lambda: server.call("GET", "/me/requests", token=a["token"])[1], timeout=30)
    assert [r["destination"] for r in server.call("GET", "/me/requests", token=a["token"])[1]] == ["甲的家"]
    assert server.call("GET", "/me/requests", token=b["token"])[1] == []
