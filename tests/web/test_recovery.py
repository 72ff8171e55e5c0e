"""Recovery in a real browser (issue 18): a staff user sets a new password with an admin's one-time reset code."""

from __future__ import annotations

import os

from playwright.sync_api import expect

from tests.web.conftest import login

OLD = "Wangji2026old"
NEW = "Chongzhi2026new"


def test_a_staff_user_resets_the_password_with_the_admins_code_and_is_logged_in(page, server):
    admin = server.login("admin1")
    status, units = server.call("GET", "/admin/org-units", token=admin)
    assert status == 200, units
    grid = next(u for u in units if u["level"] == "grid")
    username = f"resetgrid{os.getpid()}"
    status, user = server.call(
        "POST",
        "/admin/users",
        {
            "username": username,
            "password": OLD,
            "role": "grid_worker",
            "display_name": "重置网格员",
            "unit_ids": [grid["id"]],
        },
        token=admin,
    )
    assert status == 201, user
    status, old_login = server.call("POST", "/auth/login", {"username": username, "password": OLD})
    assert status == 200, old_login
    status, issued = server.call("POST", f"/admin/users/{user['id']}/reset-code", {}, token=admin)
    assert status == 201 and issued["username"] == username, issued

    page.goto("/")
    page.get_by_role("link", name="忘记密码 / 重置密码").click()
    expect(page.get_by_role("heading", name="重置密码")).to_be_visible()
    # a wrong code: the server's Chinese message, and nothing changes
    page.get_by_label("重置码").fill("WRONG-0000")
    page.get_by_label("新密码", exact=True).fill(NEW)
    page.get_by_label("确认新密码").fill(NEW)
    page.get_by_role("button", name="重置密码并登录").click()
    expect(page.get_by_role("alert")).not_to_be_empty()
    message = page.get_by_role("alert").inner_text()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message
    # two different new passwords are caught before the server is asked
    page.get_by_label("重置码").fill(issued["reset_code"])
    page.get_by_label("确认新密码").fill(NEW + "x")
    page.get_by_role("button", name="重置密码并登录").click()
    expect(page.get_by_role("alert")).to_have_text("两次输入的新密码不一致")
    page.get_by_label("确认新密码").fill(NEW)
    page.get_by_role("button", name="重置密码并登录").click()

    # logged in at once: the grid worker's home
    expect(page.get_by_role("heading", name="网格员 · 我的对象")).to_be_visible()
    expect(page.get_by_text("您好,重置网格员")).to_be_visible()
    # the new password works, the old one and the old session do not, the code is spent
    status, _ = server.call("POST", "/auth/login", {"username": username, "password": OLD})
    assert status == 401
    status, _ = server.call("GET", "/me", token=old_login["access_token"])
    assert status == 401
    status, again = server.call("POST", "/auth/reset", {"reset_code": issued["reset_code"], "password": NEW + "2"})
    assert status in (400, 422), again
    page.get_by_role("link", name="我的", exact=True).click()
    page.get_by_role("button", name="退出登录").click()
    page.get_by_role("dialog").get_by_role("button", name="确定").click()
    login(page, username, NEW)
    expect(page.get_by_role("heading", name="网格员 · 我的对象")).to_be_visible()


def test_the_reset_screen_tells_a_subject_where_to_go(page):
    page.goto("/")
    page.get_by_role("link", name="忘记密码 / 重置密码").click()
    expect(page.get_by_role("heading", name="重置密码")).to_be_visible()
    expect(page.get_by_text("请联系司法所重新签发激活码")).to_be_visible()
    page.get_by_role("button", name="返回").click()
    expect(page.get_by_role("button", name="登录", exact=True)).to_be_visible()
