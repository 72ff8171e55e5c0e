"""The app's shell: same-origin assets only, the strict CSP, the PWA parts, the admin's plain answer, Chinese."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.web.conftest import login


def test_every_asset_the_pages_load_is_same_origin(page, server):
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    login(page, "subject1")
    expect(page.get_by_role("heading", name="在矫通")).to_be_visible()
    for screen, heading in (("我的积分", "我的积分"), ("外出申请", "外出申请"), ("消息", "消息"), ("打卡", "打卡")):
        page.get_by_role("link", name=screen, exact=True).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        page.wait_for_load_state("networkidle")
        page.get_by_role("button", name="返回").click()
        expect(page.get_by_role("heading", name="在矫通")).to_be_visible()
    page.get_by_role("link", name="外出申请", exact=True).click()
    page.get_by_role("button", name="新建申请").click()
    page.wait_for_load_state("networkidle")
    assert any(u.endswith("/app/vendor/echarts/echarts.min.js") for u in seen)
    assert any("/api/v1/me/score" in u for u in seen)
    foreign = [u for u in seen if not (u.startswith(server.base + "/") or u.startswith(("data:", "blob:")))]
    assert not foreign, foreign


def test_strict_csp_and_pwa_parts(server):
    with urllib.request.urlopen(server.base + "/app/", timeout=10) as resp:
        csp = resp.headers["Content-Security-Policy"]
        html = resp.read().decode()
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in html and 'rel="manifest"' in html
    with urllib.request.urlopen(server.base + "/", timeout=10) as resp:  # / redirects to the app
        assert resp.url == server.base + "/app/"
    with urllib.request.urlopen(server.base + "/app/manifest.webmanifest", timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("application/manifest+json")
    with urllib.request.urlopen(server.base + "/app/sw.js", timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/javascript")


def test_service_worker_serves_the_shell_offline(page, context):
    page.goto("/app/")
    expect(page.get_by_role("button", name="登录", exact=True)).to_be_visible()
    page.wait_for_function("navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready")
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()  # now controlled by the worker, which has cached the shell
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    context.set_offline(True)
    page.reload()
    expect(page.get_by_role("button", name="登录", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="激活账号")).to_be_visible()
    context.set_offline(False)


def test_admin_is_told_administration_is_the_api_and_the_cli(page):
    login(page, "admin1")
    expect(page.get_by_role("heading", name="管理员")).to_be_visible()
    expect(page.get_by_text("通过接口和命令行完成")).to_be_visible()
    expect(page.get_by_role("link", name="/docs")).to_have_attribute("href", "/docs")


def test_the_browser_speaks_chinese(page):
    """Chromium itself runs in zh-CN (its own strings, as in the date inputs and the screenshots), not only the page."""
    if not Path("/usr/lib/chromium/locales/zh-CN.pak").exists():  # .ci/run installs it
        pytest.skip("Chromium's zh-CN strings are Debian's chromium-l10n package, not installed here")
    login(page, "subject1")
    page.get_by_role("link", name="外出申请", exact=True).click()
    page.get_by_role("button", name="新建申请").click()
    assert page.evaluate("[navigator.language, Intl.DateTimeFormat().resolvedOptions().locale]") == ["zh-CN", "zh-CN"]
    # the browser's own message for an empty required field (from its locale, not from the app)
    destination = page.get_by_label("目的地")
    message = destination.evaluate("e => e.validationMessage")
    assert message == "请填写此字段。", f"{message!r}: Chromium's zh-CN strings come from Debian's chromium-l10n"
    assert page.get_by_label("开始日期").evaluate("e => e.validationMessage") == "请填写此字段。"
