"""``make screenshots``: the H5 app's main screens at 360×640, from a real ``zhijiao run`` with the demo data.

python -m tests.web.screenshots docs/screenshots
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.web.conftest import launch, login, phone, running_server
from tests.web.photos import CAMERA, taken_now


def shoot(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with running_server() as server, sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = launch(p)  # in Chinese (zh-CN): the date-time inputs show 年/月/日
        ctx = phone(browser, server.base)
        page = ctx.new_page()

        def snap(name: str) -> None:
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)
            path = out / f"{name}.png"
            page.screenshot(path=str(path))
            shots.append(path)

        page.goto("/")
        expect(page.get_by_role("button", name="登录", exact=True)).to_be_visible()
        snap("01-login")
        login(page, "subject1")
        expect(page.get_by_role("heading", name="在矫通")).to_be_visible()
        snap("02-home")
        page.get_by_role("link", name="打卡", exact=True).click()
        page.get_by_label("拍照打卡").set_input_files(taken_now(CAMERA[0], Path(tmp)))
        expect(page.get_by_role("status").filter(has_text="打卡结果:已计入")).to_be_visible(timeout=90_000)
        snap("03-checkin")
        page.goto("/app/#/requests")
        expect(page.get_by_role("heading", name="外出申请", exact=True)).to_be_visible()
        snap("04-requests")
        page.goto("/app/#/requests/new")
        snap("05-new-request")
        page.goto("/app/#/score")
        expect(page.get_by_label("积分记录")).to_be_visible()
        snap("06-score")
        page.goto("/app/#/study")
        expect(page.get_by_label("本月学习")).to_be_visible()
        snap("07-study")
        page.goto("/app/#/messages")
        snap("08-messages")
        page.evaluate("localStorage.clear()")
        page.goto("/app/#/login")
        page.reload()
        login(page, "grid1")
        expect(page.get_by_role("heading", name="网格员 · 我的对象")).to_be_visible()
        snap("09-grid-home")
        page.goto("/app/#/grid/report")
        snap("10-grid-report")
        ctx.close()
        shots += shoot_staff(browser, server.base, out)
        browser.close()
    return shots


def shoot_staff(browser, base: str, out: Path) -> list[Path]:
    """矫务通: officer1's home, 待办, 驾驶舱 and 对象 at 360×640; bureau1's large screen at 1920×1080."""
    shots: list[Path] = []

    def snap(page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        expect(page.locator(".van-loading")).to_have_count(0)
        expect(page.locator(".van-toast:visible")).to_have_count(0, timeout=20_000)  # live notifications' toasts
        page.wait_for_timeout(600)  # ECharts' entry animation
        path = out / f"{name}.png"
        page.screenshot(path=str(path))
        shots.append(path)

    ctx = phone(browser, base)
    page = ctx.new_page()
    login(page, "officer1")
    expect(page.get_by_role("heading", name="矫务通")).to_be_visible()
    snap(page, "staff-1-home")
    for name, route, heading in (
        ("staff-2-inbox", "/inbox", "待办"),
        ("staff-3-dashboard", "/dashboard", "驾驶舱"),
        ("staff-5-subjects", "/subjects", "矫正对象"),
    ):
        page.goto("/app/#" + route)
        expect(page.get_by_role("heading", level=1, name=heading, exact=True)).to_be_visible()
        snap(page, name)
    ctx.close()
    wall = browser.new_context(
        base_url=base, viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = wall.new_page()
    login(page, "bureau1")
    page.goto("/app/#/dashboard?screen=large")
    expect(page.get_by_role("region", name="各司法所")).to_be_visible()
    snap(page, "staff-4-large-screen")
    wall.close()
    return shots


if __name__ == "__main__":
    for path in shoot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")):
        print(path)
