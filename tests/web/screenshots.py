"""``make screenshots``: the H5 app's main screens at 360×640, from a real ``zhijiao run`` with the demo data.

python -m tests.web.screenshots docs/screenshots
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, login, phone, running_server
from tests.web.photos import CAMERA, taken_now


def shoot(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with running_server() as server, sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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
        browser.close()
    return shots


if __name__ == "__main__":
    for path in shoot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")):
        print(path)
