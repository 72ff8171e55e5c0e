"""矫务通 work journeys in a real browser: 待办 and request decisions (officer and bureau), 预警, 建议, the
review of a suspect photo whose original is read only with a purpose (and the read audited), and the decisions
on scores: merit applications, appeals, two-person adjustments, employment, service and education verification."""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from playwright.sync_api import expect

from tests.conftest import wait_for
from tests.web.conftest import login
from tests.web.journeys import PASSWORD, activated
from tests.web.staff_journeys import (
    StaffBrowser,
    audit,
    camera_photo,
    checkin,
    confirm_dialog,
    field_report,
    offline_session,
    request_leave,
    service_report,
    suspect_checkin,
)


@pytest.fixture(autouse=True)
def _patient_expect():
    """Screens read the API several times before they show: on a busy machine that can take seconds."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=None)  # the default again for the other browser tests


@pytest.fixture
def staff(browser, server):
    """staff("officer1") → a logged-in StaffBrowser of that user; every one is closed (and checked) after the test."""
    opened: list[StaffBrowser] = []

    def make(username: str) -> StaffBrowser:
        opened.append(StaffBrowser(browser, server, username))
        return opened[-1]

    yield make
    for b in opened:
        b.close()


def _inbox_item(page, subject_name: str, what: str):
    link = page.get_by_role("list", name="待办列表").get_by_role("link", name=re.compile(f"^{subject_name} {what}"))
    expect(link).to_have_count(1)
    return link


def test_officer_approves_a_leave_and_the_subject_sees_it(page, server, staff):
    s = activated(server)
    name = s["subject"]["name"]
    leave = request_leave(server, s, days=3, destination="绍兴市越城区")
    officer = staff("officer1").open("/inbox")
    expect(officer.get_by_role("heading", name="待办")).to_be_visible()
    officer.get_by_label("类型").select_option("request")
    item = _inbox_item(officer, name, "外出申请 绍兴市越城区")
    expect(item).to_contain_text("截止")
    item.click()

    # the context of the decision: the subject's score, this year's leaves, the rules
    expect(officer.get_by_role("heading", name="外出申请审批")).to_be_visible()
    status, score = server.call("GET", f"/staff/subjects/{s['subject']['id']}/score", token=server.login("officer1"))
    assert status == 200, score
    expect(officer.get_by_label(f"信用积分 {score['total']} 分,{score['grade_name']}")).to_be_visible()
    expect(officer.get_by_label("本年外出")).to_contain_text("今年没有已批准的外出")
    rules = officer.get_by_label("规则核对")
    expect(rules).to_contain_text("✓ 符合:本次外出 3 天(每次不超过 30 天)")
    expect(rules).to_contain_text("审批流程:由司法所审批")
    expect(officer.get_by_role("button", name="提交局审")).to_have_count(0)

    # 驳回 needs a note; 取消 in the dialog changes nothing
    officer.get_by_role("button", name="驳回").click()
    expect(officer.get_by_role("alert")).to_have_text("驳回须填写审批意见")
    officer.get_by_label("审批意见").fill("同意,按时销假")
    officer.get_by_role("button", name="批准", exact=True).click()
    officer.get_by_role("dialog").get_by_role("button", name="取消").click()
    status, mine = server.call("GET", "/me/requests", token=s["token"])
    assert [r["status"] for r in mine] == ["pending"], mine
    officer.get_by_role("button", name="批准", exact=True).click()
    confirm_dialog(officer, "同意,按时销假")
    expect(officer.get_by_role("status").filter(has_text="已办理")).to_have_text("已办理:已批准")
    expect(officer.get_by_role("button", name="批准", exact=True)).to_have_count(0)

    # the subject's own app shows it approved, with the officer's note
    login(page, s["username"], PASSWORD)
    page.get_by_role("link", name="外出申请").click()
    mine_item = page.get_by_role("listitem").filter(has_text="绍兴市越城区")
    expect(mine_item).to_contain_text("已批准")
    expect(mine_item).to_contain_text("审批意见:同意,按时销假")
    status, mine = server.call("GET", "/me/requests", token=s["token"])
    assert [(r["id"], r["status"]) for r in mine] == [(leave["id"], "approved")], mine


def test_officer_recommends_a_long_leave_and_the_bureau_approves_it(server, staff):
    s = activated(server)
    name = s["subject"]["name"]
    leave = request_leave(server, s, days=10, destination="宁波市鄞州区")
    assert leave["route"] == "leave_long", leave
    officer = staff("officer1").open("/inbox")
    officer.get_by_label("类型").select_option("request")
    _inbox_item(officer, name, "外出申请 宁波市鄞州区").click()
    expect(officer.get_by_label("规则核对")).to_contain_text("审批流程:司法所提出意见后报县局审批(提交局审)")
    expect(officer.get_by_role("button", name="批准", exact=True)).to_have_count(0)  # the bureau decides a long leave
    officer.get_by_label("审批意见").fill("情况属实,建议批准")
    officer.get_by_role("button", name="提交局审").click()
    confirm_dialog(officer, "提交县局")
    expect(officer.get_by_role("status").filter(has_text="已办理")).to_have_text("已办理:已呈报县局")
    expect(officer.get_by_role("button", name="提交局审")).to_have_count(0)

    bureau = staff("bureau1").open("/inbox")
    expect(bureau.get_by_text("县局待决定的事项")).to_be_visible()
    item = _inbox_item(bureau, name, "外出申请 宁波市鄞州区")
    expect(item).to_contain_text("县局决定")
    item.click()
    expect(bureau.get_by_label("申请内容")).to_contain_text("已呈报县局")
    expect(bureau.get_by_label("申请内容")).to_contain_text("共 10 天")
    bureau.get_by_label("审批意见").fill("同意")
    bureau.get_by_role("button", name="批准", exact=True).click()
    confirm_dialog(bureau)
    expect(bureau.get_by_role("status").filter(has_text="已办理")).to_have_text("已办理:已批准")
    status, mine = server.call("GET", "/me/requests", token=s["token"])
    assert status == 200 and mine[0]["status"] == "approved" and mine[0]["decision_note"] == "同意", mine


def test_officer_handles_a_warning(server, staff):
    officer_token = server.login("officer1")
    status, open_ = server.call("GET", "/staff/warnings?kind=CHECKIN_MISSED&status=open", token=officer_token)
    assert status == 200 and open_, open_
    w = open_[0]
    officer = staff("officer1").open("/warnings")
    officer.get_by_label("预警类型").select_option("CHECKIN_MISSED")
    officer.get_by_label("处理状态").select_option("open")
    warnings = officer.get_by_role("list", name="预警列表")
    expect(warnings.get_by_role("link")).to_have_count(len(open_))
    for link in warnings.get_by_role("link").all():  # the filters reached the API
        expect(link).to_have_accessible_name(re.compile("未按时报到 未处理"))
    warnings.locator(f'a[href="#/warnings/view?id={w["id"]}"]').click()
    expect(officer.get_by_role("heading", name="预警:未按时报到")).to_be_visible()
    expect(officer.get_by_label("预警内容")).to_contain_text(w["title"])

    # the bureau reads warnings and does not handle them
    bureau = staff("bureau1").open(f"/warnings/view?id={w['id']}")
    expect(bureau.get_by_text("预警由司法所工作人员处理")).to_be_visible()
    expect(bureau.get_by_role("button", name="已处置")).to_have_count(0)

    officer.get_by_role("button", name="已处置").click()
    expect(officer.get_by_role("alert")).to_have_text("已处置须填写处理说明")
    officer.get_by_label("处理说明").fill("已电话联系本人,说明情况并督促按时报到")
    officer.get_by_role("button", name="已处置").click()
    confirm_dialog(officer, "已电话联系本人")
    expect(officer.get_by_role("status").filter(has_text="已处理")).to_have_text("已处理:已处置")
    expect(officer.get_by_label("预警内容")).to_contain_text("已处理(已处置)")
    status, after = server.call("GET", f"/staff/warnings/{w['id']}", token=officer_token)
    assert status == 200, after
    assert (after["status"], after["outcome"], after["note"]) == (
        "handled",
        "resolved",
        "已电话联系本人,说明情况并督促按时报到",
    )


def test_officer_accepts_a_suggestion(server, staff):
    officer_token = server.login("officer1")
    status, live = server.call("GET", "/staff/suggestions?status=open", token=officer_token)
    assert status == 200, live
    # one of the demo seed's run of the suggestion engine, on the list's first page
    sug = [x for x in live if x["kind"] == "missed_checkins"][-1]
    officer = staff("officer1").open("/suggestions")
    officer.get_by_label("状态").select_option("open")
    link = officer.get_by_role("link", name=re.compile(f"^{sug['subject_name']} 建议:{sug['title']} 待处理"))
    link.and_(officer.locator(f'a[href="#/suggestions/view?id={sug["id"]}"]')).click()
    expect(officer.get_by_role("heading", name="矫正建议")).to_be_visible()
    basis = officer.get_by_label("依据")
    expect(basis).to_contain_text(sug["rationale"]["summary"])
    events = [e for e in sug["rationale"]["evidence"] if e["kind"] == "score_event"]
    expect(basis.get_by_role("listitem").filter(has_text="未按时报到")).to_have_count(len(events))
    officer.get_by_role("button", name="采纳", exact=True).click()
    confirm_dialog(officer, "采纳")
    expect(officer.get_by_role("status").filter(has_text="已办理")).to_have_text("已办理:已采纳")
    expect(officer.get_by_role("button", name="采纳", exact=True)).to_have_count(0)
    expect(
        officer.get_by_role("button", name="完成", exact=True)
    ).to_be_visible()  # an accepted suggestion is then completed
    status, after = server.call("GET", f"/staff/suggestions/{sug['id']}", token=officer_token)
    assert status == 200 and after["status"] == "accepted" and after["decided_by"] is not None, after

    # then done, with its outcome
    officer.get_by_label("完成效果").select_option("partially_effective")
    officer.get_by_role("button", name="完成", exact=True).click()
    confirm_dialog(officer, "部分有效")
    expect(officer.get_by_role("status").filter(has_text="已办理")).to_have_text("已办理:已完成")
    status, after = server.call("GET", f"/staff/suggestions/{sug['id']}", token=officer_token)
    assert (after["status"], after["outcome"]) == ("done", "partially_effective"), after

    # another one dismissed with a coded reason; "other" needs a note
    other = next(x for x in live if x["id"] != sug["id"])
    officer.goto(f"/app/#/suggestions/view?id={other['id']}")
    expect(officer.get_by_label("建议内容")).to_contain_text(other["title"])
    officer.get_by_label("不采纳原因").select_option("other")
    officer.get_by_role("button", name="不采纳").click()
    expect(officer.get_by_role("alert")).to_have_text("不采纳须填写说明")
    officer.get_by_label("说明", exact=True).fill("本人已外出务工,由外地司法所协助")
    officer.get_by_role("button", name="不采纳").click()
    confirm_dialog(officer, "其他")
    expect(officer.get_by_role("status").filter(has_text="已办理")).to_have_text("已办理:未采纳")
    status, after = server.call("GET", f"/staff/suggestions/{other['id']}", token=officer_token)
    assert (after["status"], after["dismiss_reason"]) == ("dismissed", "other"), after


def test_officer_clears_a_suspect_photo_after_reading_its_reasons(server, staff):
    s = activated(server)
    name = s["subject"]["name"]
    upload = suspect_checkin(server, s)
    reasons = [r["message"] for r in upload["reasons"]]
    assert reasons, upload

    officer = staff("officer1").open("/inbox")
    officer.get_by_label("类型").select_option("suspect_evidence")
    _inbox_item(officer, name, "照片存疑审核").click()
    expect(officer.get_by_role("heading", name="照片审核")).to_be_visible()
    expect(officer.get_by_role("img", name=re.compile("存疑照片"))).to_be_visible()
    listed = officer.get_by_label("存疑原因").get_by_role("listitem")
    expect(listed).to_have_text(reasons)

    # the original only once a purpose is given; the read lands in the audit log with it
    officer.get_by_role("button", name="查看原图").click()
    expect(officer.get_by_label("原图", exact=True).get_by_role("alert")).to_contain_text("须先填写用途")
    assert audit(server, "upload.read_original", target_id=upload["id"]) == []
    purpose = "核实报到照片是否本人现场拍摄"
    officer.get_by_label("查看原图的用途").fill(purpose)
    officer.get_by_role("button", name="查看原图").click()
    original = officer.get_by_role("img", name="原图", exact=True)
    expect(original).to_be_visible()
    assert original.evaluate("(img) => img.complete && img.naturalWidth") == 320
    rows = audit(server, "upload.read_original", target_id=upload["id"])
    assert [(r["actor_role"], r["purpose"]) for r in rows] == [("officer", purpose)], rows

    officer.get_by_label("审核说明").fill("照片为本人当面补拍,排除疑点")
    officer.get_by_role("button", name="排除疑点").click()
    confirm_dialog(officer, "排除疑点")
    expect(officer.get_by_role("status").filter(has_text="排除")).to_have_text("已排除疑点")
    expect(officer.get_by_role("button", name="排除疑点")).to_have_count(0)
    status, after = server.call("GET", f"/uploads/{upload['id']}", token=s["token"])
    assert status == 200 and after["review"]["status"] == "cleared", after
    # the item has left the inbox
    officer.get_by_role("button", name="返回").click()
    expect(
        officer.get_by_role("list", name="待办列表").get_by_role("link", name=re.compile(f"^{name} 照片存疑审核"))
    ).to_have_count(0)


def _decided(page, text: str) -> None:
    expect(page.get_by_role("status").filter(has_text="已办理")).to_have_text(text)


def test_officer_approves_a_merit_application(server, staff):
    s = activated(server)
    body = {"merit_type": "MERIT_DONATION", "description": "向社区图书室捐赠图书 200 册",
            "occurred_on": date.today().isoformat(), "client_id": str(uuid.uuid4())}  # fmt: skip
    status, merit = server.call("POST", "/me/merit-applications", body, token=s["token"])
    assert status == 201 and merit["decider_role"] == "officer", merit
    officer = staff("officer1").open("/inbox")
    officer.get_by_label("类型").select_option("merit_application")
    _inbox_item(officer, s["subject"]["name"], "加分申请").click()
    content = officer.get_by_label("申请内容")
    expect(content).to_contain_text("公益捐赠")
    expect(content).to_contain_text("5 分")
    expect(content).to_contain_text("向社区图书室捐赠图书 200 册")
    officer.get_by_role("button", name="批准加分").click()
    confirm_dialog(officer)
    _decided(officer, "已办理:已批准")
    status, mine = server.call("GET", "/me/merit-applications", token=s["token"])
    assert status == 200 and mine[0]["status"] == "approved" and mine[0]["event_id"], mine


def test_officer_upholds_an_appeal(server, staff):
    token = server.login("subject2")  # demo: missed check-ins, decided by 富春司法所's officers
    status, events = server.call("GET", "/me/score/events?status=active&rule_code=CHECKIN_MISSED", token=token)
    assert status == 200 and events, events
    event = events[0]
    body = {"event_id": event["id"], "reason": "当天住院手术,附出院小结", "client_id": str(uuid.uuid4())}
    status, appeal = server.call("POST", "/me/appeals", body, token=token)
    assert status == 201 and appeal["decider_role"] == "officer", appeal
    status, me = server.call("GET", "/me", token=token)
    assert status == 200, me

    officer = staff("officer1").open("/inbox")
    officer.get_by_label("类型").select_option("appeal")
    _inbox_item(officer, me["subject"]["name"], "积分申诉").click()
    content = officer.get_by_label("申诉内容")
    expect(content).to_contain_text(f"{event['rule_name']}({event['points']} 分)")
    expect(content).to_contain_text("当天住院手术,附出院小结")
    officer.get_by_role("button", name="驳回申诉").click()
    expect(officer.get_by_role("alert")).to_have_text("驳回申诉须填写处理意见")
    officer.get_by_label("处理意见").fill("病历属实")
    officer.get_by_role("button", name="申诉成立").click()
    confirm_dialog(officer, "撤销该积分记录")
    _decided(officer, "已办理:申诉成立")
    status, after = server.call("GET", "/me/score/events?rule_code=CHECKIN_MISSED&status=revoked", token=token)
    assert status == 200 and [e["id"] for e in after] == [event["id"]], after


def test_two_person_adjustment_proposed_by_the_officer_and_approved_by_the_bureau(server, staff):
    s = activated(server)
    name = s["subject"]["name"]
    officer = staff("officer1").open(f"/decisions/adjust?subject={s['subject']['id']}")
    expect(officer.get_by_role("heading", name="提出积分调整")).to_be_visible()
    expect(officer.get_by_text(name, exact=True)).to_be_visible()
    officer.get_by_label("维度").select_option("behaviour")
    officer.get_by_label("分值").fill("0")
    officer.get_by_label("调整理由").fill("协助社区调解邻里纠纷,表现突出")
    officer.get_by_role("button", name="提出调整").click()
    expect(officer.get_by_role("alert")).to_have_text("分值须为 -100 到 100 之间的非零整数")
    officer.get_by_label("分值").fill("6")
    officer.get_by_role("button", name="提出调整").click()
    confirm_dialog(officer, "+6 分")
    expect(officer.get_by_role("status").filter(has_text="已提出")).to_have_text("已提出,等待县局复核")
    officer.get_by_role("link", name="查看这条调整").click()
    expect(officer.get_by_label("调整内容")).to_contain_text("待处理")
    expect(officer.get_by_text("须由县局的另一名工作人员复核批准")).to_be_visible()
    expect(officer.get_by_role("button", name="批准调整")).to_have_count(0)

    bureau = staff("bureau1").open("/inbox")
    bureau.get_by_label("类型").select_option("adjustment")
    _inbox_item(bureau, name, "积分调整复核").click()
    content = bureau.get_by_label("调整内容")
    expect(content).to_contain_text("行为表现")
    expect(content).to_contain_text("+6 分")
    bureau.get_by_label("复核意见").fill("情况属实")
    bureau.get_by_role("button", name="批准调整").click()
    confirm_dialog(bureau)
    _decided(bureau, "已办理:已批准")
    status, adjustments = server.call(
        "GET", "/staff/adjustments?status=approved&page_size=200", token=server.login("bureau1")
    )
    assert status == 200, adjustments
    mine = [a for a in adjustments if a["subject_id"] == s["subject"]["id"]]
    assert len(mine) == 1 and mine[0]["points"] == 6 and mine[0]["event_id"], mine


def test_officer_verifies_employment_service_and_education(server, staff, tmp_path):
    s = activated(server)
    name, sid = s["subject"]["name"], s["subject"]["id"]
    service_report(server, s, camera_photo(tmp_path, 0), activity="社区清扫", hours=2)
    offline_session(server, s, camera_photo(tmp_path, 1), course="法治讲座", minutes=90)

    officer = staff("officer1").open(f"/decisions/employment?subject={sid}")
    expect(officer.get_by_role("heading", name="就业就学核实")).to_be_visible()
    officer.get_by_label("类型").select_option("job")
    officer.get_by_label("单位或学校").fill("富阳某服装厂")
    officer.get_by_label("开始日期").fill(date.today().isoformat())
    officer.get_by_role("button", name="确认核实").click()
    confirm_dialog(officer, "富阳某服装厂")
    expect(officer.get_by_role("status").filter(has_text="已核实")).to_have_text("已核实就业,已按规则加分")
    token = server.login("officer1")
    status, events = server.call("GET", f"/staff/subjects/{sid}/score/events", token=token)
    assert status == 200 and [e["rule_code"] for e in events] == ["EMPLOYMENT_VERIFIED"], events

    officer.goto("/app/#/inbox")
    officer.get_by_label("类型").select_option("service_verification")
    _inbox_item(officer, name, "公益活动核实:社区清扫").click()
    # the report itself (GET /staff/service-reports/{id}): place, organisation, hours, its photo
    record = officer.get_by_label("核实内容")
    expect(record).to_contain_text("富春街道文化广场")
    expect(record).to_contain_text("富春社区居委会")
    expect(record).to_contain_text("2 小时(按整小时计 2 小时)")
    expect(record.locator("figure.sw-photo")).to_have_count(1)
    officer.get_by_role("button", name="核实通过").click()
    confirm_dialog(officer, "按整小时计分")
    _decided(officer, "已办理:已确认")
    status, reports = server.call("GET", "/me/service-reports", token=s["token"])
    assert status == 200 and [r["status"] for r in reports] == ["verified"], reports

    officer.goto("/app/#/inbox")
    officer.get_by_label("类型").select_option("education_verification")
    _inbox_item(officer, name, "线下学习确认:法治讲座").click()
    record = officer.get_by_label("核实内容")
    expect(record).to_contain_text("法治讲座")
    expect(record).to_contain_text("90 分钟")
    expect(record).to_contain_text("待确认")
    officer.get_by_role("button", name="确认学习").click()
    confirm_dialog(officer)
    _decided(officer, "已办理:已确认")
    status, sessions = server.call("GET", "/me/education-sessions", token=s["token"])
    assert status == 200 and [x["status"] for x in sessions] == ["verified"], sessions
    expect(officer.get_by_label("核实内容")).to_contain_text("已确认")  # the record as decided

    # the profile's learning and service now come from the records, not the score events
    officer.goto(f"/app/#/subjects/view?id={sid}")
    expect(officer.get_by_label("公益服务", exact=True)).to_contain_text("已核实公益服务 2 小时")
    expect(officer.get_by_label("公益服务记录")).to_contain_text("社区清扫(富春街道文化广场):2 小时,已确认")
    expect(officer.get_by_label("学习记录")).to_contain_text("法治讲座,已确认,90 分钟")


def test_officer_confirms_a_geofence_breach(server, staff, tmp_path):
    s = activated(server)
    outside = {"latitude": 30.40, "longitude": 120.30, "accuracy": 15}  # north of 富阳区's area
    c = checkin(server, s, camera_photo(tmp_path, 0), at=outside)
    token = server.login("officer1")
    found = wait_for(
        lambda: server.call("GET", f"/staff/warnings?subject_id={s['subject']['id']}&kind=GEOFENCE", token=token)[1],
        timeout=150,
        interval=1,
    )
    w = found[0]
    officer = staff("officer1").open(f"/warnings/view?id={w['id']}")
    expect(officer.get_by_label("预警内容")).to_contain_text(f"约 {round(w['details']['distance_m'])} 米")
    officer.get_by_label("处理说明").fill("本人承认未经批准前往杭州市区")
    officer.get_by_role("button", name="确认越界").click()
    confirm_dialog(officer, "扣分")
    expect(officer.get_by_role("status").filter(has_text="已处理")).to_have_text("已处理:确认属实")
    status, events = server.call("GET", f"/staff/subjects/{s['subject']['id']}/score/events", token=token)
    assert status == 200, events
    breach = [e for e in events if e["rule_code"] == "GEOFENCE_BREACH"]
    assert len(breach) == 1 and breach[0]["source_id"] == str(c["id"]), events


def test_officer_confirms_a_negative_field_report(server, staff, tmp_path):
    s = activated(server)
    name = s["subject"]["name"]
    report = field_report(server, s, camera_photo(tmp_path, 1), f"走访发现{name}昨晚在村口聚众赌博,情绪激动")
    assert report["status"] == "pending_review", report
    officer = staff("officer1").open("/inbox")
    officer.get_by_label("类型").select_option("negative_field_report")
    _inbox_item(officer, name, "网格员负面报告").click()
    content = officer.get_by_label("报告内容")
    expect(content).to_contain_text("聚众赌博")
    expect(content).to_contain_text("赌博")
    expect(officer.get_by_role("img", name=re.compile("现场照片"))).to_be_visible()
    officer.get_by_label("审核说明").fill("经核实属实,已约谈")
    officer.get_by_role("button", name="确认", exact=True).click()
    confirm_dialog(officer, "负面反馈")
    expect(officer.get_by_role("status").filter(has_text="已确认")).to_have_text("已确认")
    status, after = server.call("GET", f"/staff/field-reports/{report['id']}", token=server.login("officer1"))
    assert status == 200 and after["status"] == "confirmed" and after["review_note"] == "经核实属实,已约谈", after
