"""矫务通 对象 journeys in a real browser: location history after a purpose (audited), enrolment and a reissued
activation code that work in the subject app, a face reference from a real face photo, level change and release."""

from __future__ import annotations

import json
import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from backend.services.subjects import idcard
from tests.web.conftest import login, phone
from tests.web.journeys import PASSWORD, activated, enrol
from tests.web.photos import CAMERA, taken_now
from tests.web.staff_subject_journeys import (
    FACES,
    activate_in_subject_app,
    activation_refused,
    audit_rows,
    check_in,
    confirm_dialog,
    open_subject,
    shown_code,
)


def test_location_history_and_the_full_id_number_only_after_a_purpose_and_audited(page, server, tmp_path):
    s = activated(server)
    check_in(server, s["token"], taken_now(CAMERA[0], tmp_path))
    sid = s["subject"]["id"]
    login(page, "officer1")
    assert open_subject(page, s["subject"]["name"]) == sid
    # the check-in calendar shows today's real check-in (GET /staff/subjects/{id}/checkins)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    day = page.get_by_label("报到日历").get_by_role("listitem", name=f"{today.month}月{today.day}日 ", exact=False)
    expect(day.filter(has_text=re.compile("[✓…+迟]"))).to_have_count(1, timeout=20_000)
    expect(page.get_by_label("报到日历")).to_contain_text("近五周:打卡 1 次")
    page.get_by_role("navigation", name="对象操作").get_by_role("link", name="位置记录").click()
    expect(page.get_by_role("heading", level=1, name=f"位置记录 · {s['subject']['name']}")).to_be_visible()
    page.wait_for_load_state("networkidle")
    # nothing is read before a purpose is given
    expect(page.get_by_role("img", name=re.compile("位置记录图"))).to_have_count(0)
    page.get_by_role("button", name="查看位置记录").click()
    expect(page.get_by_role("alert")).to_contain_text("请先填写查询目的")
    page.wait_for_timeout(500)
    assert audit_rows(server, "subject.read_locations", sid) == []

    page.get_by_label("查询目的").fill("核实报到位置是否在辖区内")
    page.get_by_role("button", name="查看位置记录").click()
    expect(page.get_by_role("status").filter(has_text="查询目的")).to_contain_text("共 1 个位置点")
    expect(page.get_by_role("img", name="位置记录图:1 个点,蓝色区域为辖区范围")).to_be_visible()
    expect(page.locator("svg.ss-map polygon")).to_have_count(1)  # 富阳区's outline from GET /staff/org-units
    expect(page.get_by_role("list", name="位置点列表")).to_contain_text("打卡:30.00000, 119.70000(精度 ±12 米)")
    rows = audit_rows(server, "subject.read_locations", sid)
    assert len(rows) == 1, rows
    assert rows[0]["purpose"] == "核实报到位置是否在辖区内" and rows[0]["details"]["points"] == 1
    officer = server.login("officer1")
    status, me = server.call("GET", "/me", token=officer)
    assert status == 200 and rows[0]["actor_id"] == me["user"]["id"]

    # the full ID number, likewise: only with a purpose, and the read audited
    page.get_by_role("button", name="返回").click()
    info = page.get_by_label("基本信息")
    expect(info).to_contain_text(s["subject"]["id_number_masked"])
    info.get_by_role("button", name="查看完整号码").click()
    reveal = page.get_by_role("form", name="查看完整身份证号")
    reveal.get_by_role("button", name="查看").click()
    expect(reveal.get_by_role("alert")).to_contain_text("请填写查看目的")
    assert audit_rows(server, "subject.read_id_number", sid) == []
    reveal.get_by_label("查看目的").fill("办理居住证明")
    reveal.get_by_role("button", name="查看").click()
    status, full = server.call("GET", f"/staff/subjects/{sid}?reveal=id_number&purpose=test", token=officer)
    assert status == 200 and full["id_number"]
    expect(info).to_contain_text(full["id_number"])
    purposes = [r["purpose"] for r in audit_rows(server, "subject.read_id_number", sid)]
    assert sorted(purposes) == ["test", "办理居住证明"], purposes


def test_enrolment_shows_the_code_once_and_it_activates_the_subject_app(page, browser, server):
    login(page, "officer1")
    page.goto("/app/#/subjects")
    page.get_by_role("link", name="入矫登记").click()
    expect(page.get_by_role("heading", level=1, name="入矫登记")).to_be_visible()
    n = int(time.time()) % 100_000
    name = f"入矫{n}"
    form = page.get_by_role("form", name="入矫登记")
    form.get_by_label("姓名").fill(name)
    form.get_by_label("性别").select_option("female")
    form.get_by_label("身份证号").fill(idcard.make("330111", date(1985, 3, 1) + timedelta(days=n % 5000), n % 1000))
    form.get_by_label("矫正类别").select_option("parole")
    form.get_by_label("矫正开始日期").fill(date.today().isoformat())
    form.get_by_label("矫正结束日期").fill((date.today() + timedelta(days=200)).isoformat())
    expect(form.get_by_label("司法所")).to_have_value(re.compile(r"\d+"))
    expect(form.get_by_label("网格")).to_have_value(re.compile(r"\d+"))
    form.get_by_role("button", name="登记并生成激活码").click()
    code = shown_code(page)
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{10}", code), code
    username = page.locator(".ss-username").inner_text().strip()

    officer = server.login("officer1")
    status, found = server.call("GET", f"/staff/subjects?q={quote(name)}", token=officer)
    assert status == 200 and len(found) == 1, found
    assert found[0]["correction_type"] == "parole" and found[0]["gender"] == "female"

    # the code is shown once: the profile does not show it again
    page.get_by_role("link", name="查看对象详情").click()
    expect(page.get_by_role("heading", level=1, name=f"对象 · {name}")).to_be_visible()
    expect(page.get_by_role("status", name="激活码")).to_have_count(0)

    activate_in_subject_app(browser, server, code, PASSWORD)
    status, tokens = server.call("POST", "/auth/login", {"username": username, "password": PASSWORD})
    assert status == 200 and tokens["user"]["display_name"] == name, tokens


def test_reissued_activation_code_works_and_the_old_one_is_dead(page, browser, server):
    e = enrol(server)
    name = e["subject"]["name"]
    login(page, "officer1")
    open_subject(page, name)
    # 取消 issues nothing
    page.get_by_role("button", name="重新生成激活码").click()
    dialog = confirm_dialog(page)
    expect(dialog).to_contain_text("原激活码立即失效")
    dialog.get_by_role("button", name="取消").click()
    expect(page.get_by_role("status", name="激活码")).to_have_count(0)
    page.get_by_role("button", name="重新生成激活码").click()
    confirm_dialog(page).get_by_role("button", name="确定").click()
    code = shown_code(page)
    assert code != e["activation_code"]
    assert activation_refused(server, e["activation_code"], PASSWORD)
    activate_in_subject_app(browser, server, code, PASSWORD)
    assert activation_refused(server, code, PASSWORD)  # spent


def test_face_reference_from_a_real_face_photo(page, server):
    e = enrol(server)
    sid = e["subject"]["id"]
    login(page, "officer1")
    open_subject(page, e["subject"]["name"])
    page.get_by_role("navigation", name="对象操作").get_by_role("link", name="人脸底库").click()
    expect(page.get_by_role("heading", level=1, name=f"人脸底库 · {e['subject']['name']}")).to_be_visible()
    expect(page.get_by_text("尚无人脸底库")).to_be_visible()
    # the notice comes first
    page.get_by_label("拍摄人脸照片").set_input_files(str(FACES / "obama.jpg"))
    expect(page.get_by_role("alert")).to_contain_text("请先向对象告知")
    page.get_by_label("已向对象告知人脸信息处理规则(告知书 face-notice-v1)").check()
    page.get_by_label("拍摄人脸照片").set_input_files(str(FACES / "obama.jpg"))
    faces = page.get_by_role("list", name="人脸底库列表")
    expect(faces.get_by_role("listitem")).to_have_count(1, timeout=90_000)
    expect(faces).to_contain_text("入矫采集")
    expect(faces).to_contain_text("社区矫正法")
    expect(faces).to_contain_text("face-notice-v1")
    officer = server.login("officer1")
    status, refs = server.call("GET", f"/staff/subjects/{sid}/face-references", token=officer)
    assert status == 200 and len(refs) == 1, refs
    assert refs[0]["source"] == "enrolment" and refs[0]["legal_basis"] == "statutory_duty"
    assert refs[0]["notice_version"] == "face-notice-v1"

    # a photo of two people is refused with the server's message
    page.get_by_label("拍摄人脸照片").set_input_files(str(FACES / "two_people.jpg"))
    expect(page.get_by_role("alert")).to_be_visible(timeout=90_000)
    expect(faces.get_by_role("listitem")).to_have_count(1)

    # deleting asks first
    faces.get_by_role("button", name=re.compile("删除 .* 的人脸底库")).click()
    confirm_dialog(page).get_by_role("button", name="确定").click()
    expect(faces.get_by_role("listitem")).to_have_count(0)
    status, refs = server.call("GET", f"/staff/subjects/{sid}/face-references", token=officer)
    assert status == 200 and refs == [], refs


def test_level_change_then_release_with_its_export_record(page, browser, server):
    e = enrol(server)
    sid, name = e["subject"]["id"], e["subject"]["name"]
    login(page, "officer1")
    open_subject(page, name)
    expect(page.get_by_label("基本信息")).to_contain_text("普管")
    page.get_by_role("navigation", name="对象操作").get_by_role("link", name="调整监管等级和风险等级").click()
    page.get_by_label("监管等级").select_option("strict")
    page.get_by_label("风险等级", exact=True).select_option("high")
    page.get_by_label("调整原因").fill("近期多次未按时报到")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("heading", level=1, name=f"对象 · {name}")).to_be_visible()
    expect(page.get_by_label("基本信息")).to_contain_text("严管")
    expect(page.get_by_label("基本信息")).to_contain_text("高风险")
    changes = page.get_by_label("变更记录")
    expect(changes).to_contain_text("监管等级:普管 → 严管(近期多次未按时报到)")
    expect(changes).to_contain_text("风险等级:中风险 → 高风险(近期多次未按时报到)")

    page.get_by_role("navigation", name="对象操作").get_by_role("link", name="解除矫正").click()
    page.get_by_label("备注").fill("矫正期满")
    page.get_by_role("button", name="解除矫正").click()
    dialog = confirm_dialog(page)
    expect(dialog).to_contain_text("此操作不能撤销")
    dialog.get_by_role("button", name="取消").click()
    officer = server.login("officer1")
    status, subject = server.call("GET", f"/staff/subjects/{sid}", token=officer)
    assert status == 200 and subject["status"] == "in_correction"
    page.get_by_role("button", name="解除矫正").click()
    confirm_dialog(page).get_by_role("button", name="确定").click()
    record = page.get_by_label("解矫导出记录")
    expect(record).to_contain_text("矫正期满")
    status, exported = server.call("GET", f"/staff/subjects/{sid}/export", token=officer)
    assert status == 200, exported
    expect(record).to_contain_text(f"最终积分{exported['total']}")
    expect(page.get_by_role("link", name="下载导出记录(JSON)")).to_be_visible()
    # the profile now offers the record, not the actions of a subject in correction
    page.goto(f"/app/#/subjects/view?id={sid}")
    expect(page.get_by_label("基本信息")).to_contain_text("已解矫")
    expect(page.get_by_role("link", name="解矫导出记录")).to_be_visible()
    expect(page.get_by_role("button", name="重新生成激活码")).to_have_count(0)
    expect(page.get_by_role("button", name="下载导出文件")).to_have_count(0)  # the bureau's

    # the bureau downloads the signed export file and records its handover to the provincial platform
    ctx = phone(browser, server.base)
    try:
        bp = ctx.new_page()
        login(bp, "bureau1")
        bp.goto(f"/app/#/subjects/release?id={sid}")
        expect(bp.get_by_label("解矫导出记录")).to_contain_text("矫正期满")
        with bp.expect_download() as dl:
            bp.get_by_role("button", name="下载导出文件").click()
        exported_file = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
        assert exported_file["record"]["subject"]["id"] == sid and exported_file["signature"]["value"]
        expect(bp.get_by_text(re.compile(r"已下载 .*SHA-256"))).to_be_visible()
        bp.get_by_label("省平台回执编号").fill(f"ZJ-{sid}-0001")
        bp.get_by_role("button", name="记录交接").click()
        expect(bp.get_by_role("status").filter(has_text="已交接")).to_contain_text(f"回执编号 ZJ-{sid}-0001")
    finally:
        ctx.close()
    bureau = server.login("bureau1")
    status, again = server.call(
        "POST", f"/staff/subjects/{sid}/export/handover", {"reference": f"ZJ-{sid}-0001"}, token=bureau
    )
    assert status == 200 and again["handed_over_at"] and again["file_sha256"], again


def test_bureau_transfers_a_subject_after_an_approved_residence_change(page, server):
    s = activated(server)
    sid, name = s["subject"]["id"], s["subject"]["name"]
    start = date.today() + timedelta(days=3)
    body = {
        "type": "residence_change",
        "destination": "富阳区银湖街道",
        "reason": "随子女迁居",
        "start_date": start.isoformat(),
        "end_date": start.isoformat(),
        "client_id": f"web-rc-{sid}",
    }
    status, req = server.call("POST", "/me/requests", body, token=s["token"])
    assert status == 201, req
    login(page, "bureau1")
    open_subject(page, name)
    expect(page.get_by_role("link", name="入矫登记")).to_have_count(0)
    page.get_by_role("navigation", name="对象操作").get_by_role("link", name="执行地变更迁移").click()
    # not approved yet: nothing to carry out
    expect(page.get_by_text("没有已批准的执行地变更申请")).to_be_visible()

    officer, bureau = server.login("officer1"), server.login("bureau1")
    status, out = server.call("POST", f"/staff/requests/{req['id']}/decision", {"decision": "recommend"}, token=officer)
    assert status == 200 and out["status"] == "recommended", out
    status, out = server.call("POST", f"/staff/requests/{req['id']}/decision", {"decision": "approve"}, token=bureau)
    assert status == 200 and out["status"] == "approved", out

    page.reload()
    form = page.get_by_role("form", name="执行地变更迁移")
    expect(form.get_by_label("已批准的执行地变更申请")).to_contain_text("富阳区银湖街道")
    # into the office's other grid (the demo's office counts stay as the dashboard journeys expect them)
    form.get_by_label("迁入司法所").select_option(label="富春司法所")
    grids = form.get_by_label("迁入网格").locator("option")
    expect(grids).to_have_count(3)  # 请选择 and the two grids of 富春司法所
    other = next(v for v in grids.evaluate_all("os => os.map(o => o.value)") if v and int(v) != s["subject"]["grid_id"])
    form.get_by_label("迁入网格").select_option(other)
    grid_name = form.get_by_label("迁入网格").locator(f"option[value='{other}']").inner_text().strip()
    assert re.fullmatch(r"富春司法所第[12]网格", grid_name), grid_name  # the grid's name (GET /staff/org-units)
    form.get_by_role("button", name="迁移").click()
    dialog = confirm_dialog(page)
    expect(dialog).to_contain_text(f"确定将{name}迁至富春司法所 {grid_name}")
    dialog.get_by_role("button", name="确定").click()
    expect(page.get_by_role("status").filter(has_text="已迁至")).to_contain_text(f"富春司法所 {grid_name}")
    status, moved = server.call("GET", f"/staff/subjects/{sid}", token=bureau)
    assert status == 200 and moved["grid_id"] == int(other) and moved["office_id"] == s["subject"]["office_id"], moved
    assert [c["reason"] for c in moved["changes"] if c["field"] == "grid_id"] == [f"执行地变更(申请 {req['id']})"]
    status, reqs = server.call("GET", f"/staff/requests?subject_id={sid}", token=bureau)
    assert status == 200 and [r["status"] for r in reqs] == ["completed"], reqs


def test_the_list_filters_by_grade_and_risk_and_shows_each_grade(page, server):
    officer = server.login("officer1")
    status, red = server.call("GET", "/staff/subjects?grade=severe&status=in_correction&page_size=200", token=officer)
    assert status == 200 and red and all(x["colour"] == "red" for x in red), red
    login(page, "officer1")
    page.goto("/app/#/subjects")
    expect(page.get_by_role("heading", level=1, name="矫正对象")).to_be_visible()
    page.get_by_label("信用等级", exact=True).select_option("severe")
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_role("status").filter(has_text="共")).to_have_text(f"共 {len(red)} 人")
    links = page.get_by_role("list", name="对象列表").get_by_role("link")
    expect(links).to_have_count(len(red))
    for x in red:
        expect(links.filter(has_text=x["name"])).to_contain_text(f"{x['score_total']} 分 失信严重(红码)")
    # and by risk level: the API's count of high-risk red subjects
    status, high = server.call(
        "GET", "/staff/subjects?grade=severe&risk_level=high&status=in_correction&page_size=200", token=officer
    )
    assert status == 200, high
    page.get_by_label("风险等级", exact=True).select_option("high")
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_role("status").filter(has_text="共")).to_have_text(f"共 {len(high)} 人")
    # office and grid filters name the units of the jurisdiction
    expect(page.get_by_label("司法所", exact=True).locator("option")).to_have_text(["全部司法所", "富春司法所"])
    expect(page.get_by_label("网格", exact=True).locator("option")).to_have_text(
        ["全部网格", "富春司法所第1网格", "富春司法所第2网格"]
    )
