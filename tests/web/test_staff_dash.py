"""矫务通 in a real browser: the staff home and its tabs, the 驾驶舱 (its figures, read from the page's text and
aria-labels, equal GET /staff/dashboard's for the demo data), the large screen, CSV exports, staff messages."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.web.conftest import DEMO_PASSWORD, login

COLOUR = {"green": "绿", "blue": "蓝", "yellow": "黄", "orange": "橙", "red": "红"}
LEVEL = {"strict": "严管", "normal": "普管", "lenient": "宽管"}
WORK_KIND = {
    "request": "审批申请",
    "service_verification": "公益活动核实",
    "education_verification": "学习核实",
    "appeal": "申诉",
    "merit_application": "加分申请",
    "adjustment": "积分调整",
    "suspect_evidence": "可疑照片",
    "negative_field_report": "负面走访报告",
    "warning": "预警",
    "suggestion": "建议",
}
WARNING_KIND = {
    "CHECKIN_MISSED": "漏打卡",
    "GEOFENCE": "越界打卡",
    "LEAVE_OVERDUE": "外出逾期未销假",
    "SCORE_RED": "红色等级",
    "KEYWORD_HIGH": "走访高危关键词",
    "EVIDENCE_SUSPECT": "可疑照片",
    "FACE_REFERENCE_MISSING": "缺少人脸底照",
}
SUGGESTION_STATUS = {"open": "待处理", "accepted": "已采纳", "dismissed": "不采纳", "done": "已完成"}
SUGGESTION_CATEGORY = {
    "supervision": "监督管理",
    "education": "教育矫正",
    "employment_help": "就业帮扶",
    "counselling": "谈话疏导",
    "incentive": "激励",
}
SUGGESTION_OUTCOME = {
    "effective": "有效",
    "partially_effective": "部分有效",
    "not_effective": "无效",
    "referred": "已转介",
}
DISMISS_REASON = {
    "not_applicable": "不适用",
    "already_addressed": "已处理",
    "insufficient_evidence": "证据不足",
    "duplicate": "重复",
    "other": "其他",
}
#: the screen each tab of the staff app opens (its heading)
#: the tab screens that include StaffTabs (staff_dash.js, and staff_work.js through staffScreen)
TABBED = {"待办", "预警", "建议", "驾驶舱"}
TAB_HEADINGS = {"待办": "待办", "预警": "预警", "建议": "建议", "对象": "矫正对象", "驾驶舱": "驾驶舱", "我的": "我的"}


@pytest.fixture(autouse=True)
def _patient_expect():
    """The dashboard's aggregates on a busy machine can take longer than expect()'s default 5 s."""
    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the other modules


def _token(server, username: str) -> str:
    """A fresh access token (not the session's cached one, which may have expired in a long run)."""
    status, body = server.call("POST", "/auth/login", {"username": username, "password": DEMO_PASSWORD})
    assert status == 200, body
    return body["access_token"]


def _get(server, path: str, token: str, accept: str = "application/json") -> tuple[bytes, dict]:
    req = urllib.request.Request(server.base + "/api/v1" + path)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.read(), dict(resp.headers)


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _dashboard(server, token: str, office_id: int | None = None) -> dict:
    raw, _ = _get(server, "/staff/dashboard" + (f"?office_id={office_id}" if office_id else ""), token)
    d = json.loads(raw)
    d.pop("as_of")
    return d


def _in_correction(server, token: str, office_id: int | None = None) -> int:
    """The subjects in correction the caller's subject list counts (of one office)."""
    query = "/staff/subjects?status=in_correction&page_size=1" + (f"&office_id={office_id}" if office_id else "")
    _, headers = _get(server, query, token)
    return json.loads(headers["X-Pagination"])["total"]


def num(x: float | int) -> str:
    """A number as the page (JavaScript) writes it: 780.0 is 780."""
    return str(int(x)) if float(x).is_integer() else str(x)


def pct(rate: float | None) -> str:
    """A compliance rate as the page writes it: 87.5%, 60%, or — when nothing was due."""
    return "—" if rate is None else f"{num(rate)}%"


def checkin_lines(c: dict) -> list[str]:
    return [
        f"应打卡周期 {c['due']} 个",
        f"按时打卡 {c['on_time']} 个",
        f"迟到打卡 {c['late']} 个",
        f"漏打卡 {c['missed']} 个",
        f"打卡合规率 {pct(c['rate_pct'])}",
        f"有漏打卡的对象 {c['subjects_missed']} 人",
    ]


def _counted(title: str, names: dict, obj: dict) -> str:
    items = [f"{names.get(k, k)} {n} 条" for k, n in obj.items()]
    return f"{title}:{','.join(items) if items else '暂无'}"


def expected(d: dict) -> dict[str, list[str]]:
    """The text lines each section of the dashboard must show for the API's answer ``d``."""
    sub = d["subjects"]
    grades = [f"{g['name']}({COLOUR[g['colour']]}) {g['count']} 人" for g in sub["by_grade"]]
    extra = [f"基础分待定 {sub['base_pending']} 人", f"未评分 {sub['unscored']} 人"]
    known = [t for t in d["trend"] if t["average"] is not None]
    ends = (known[-1:] + known[:1])[: len(known)]  # the last day with a score, and the first if another
    trend = [f"{t['date']} 平均 {num(t['average'])} 分({t['subjects']} 人)" for t in ends]
    trend = trend or ["暂无评分"]
    sg = d["suggestions"]
    offices = []
    for o in d["offices"]:
        colours = ",".join(f"{COLOUR[c]} {o['by_colour'].get(c, 0)}" for c in COLOUR)
        c = o["checkins"]
        offices.append(
            f"{o['name']}:对象 {o['subjects']} 人({colours}),待办 {o['open_work']} 项,逾期 {o['overdue_work']} 项,"
            f"未处理预警 {o['unhandled_warnings']} 条,待办建议 {o['open_suggestions']} 条,"
            f"打卡合规率 {pct(c['rate_pct'])}(应打卡 {c['due']},按时 {c['on_time']},迟到 {c['late']},"
            f"漏打卡 {c['missed']},漏打卡对象 {c['subjects_missed']} 人)"
        )
    return {
        "在矫对象": grades + extra + [f"{LEVEL[k]} {sub['by_supervision_level'][k]} 人" for k in LEVEL],
        "积分趋势": trend,
        "待办工作": [f"{WORK_KIND[k['kind']]} {k['open']} 项(逾期 {k['overdue']} 项)" for k in d["work"]["by_kind"]]
        or ["暂无待办"],
        "预警": [
            f"{WARNING_KIND[k['kind']]}:待处理 {k['open']},已查看 {k['acknowledged']},逾期 {k['overdue']},"
            f"高危未处理 {k['high_unhandled']},近30天新增 {k['raised_30d']},近30天已处理 {k['handled_30d']}"
            for k in d["warnings"]["by_kind"]
        ]
        or ["暂无预警"],
        "打卡情况": checkin_lines(d["checkins"]),
        "矫正建议": [
            _counted("状态", SUGGESTION_STATUS, sg["by_status"]),
            _counted("待办建议类别", SUGGESTION_CATEGORY, sg["open_by_category"]),
            _counted("处理结果", SUGGESTION_OUTCOME, sg["by_outcome"]),
            _counted("不采纳原因", DISMISS_REASON, sg["by_dismiss_reason"]),
        ],
        "积分分布": [f"{b['from']}–{b['to']} 分 {b['count']} 人" for b in d["score_distribution"] if b["count"]]
        or ["暂无评分"],
        "各司法所": offices,
    }


def _section(page, name: str):
    return page.get_by_role("region", name=name, exact=True)


def _lines(page, name: str) -> list[str]:
    return [t.strip() for t in _section(page, name).locator("ul.sd-figs > li").all_inner_texts()]


def _charts(page, name: str) -> list[str]:
    return [el.get_attribute("aria-label") or "" for el in _section(page, name).get_by_role("img").all()]


def check_figures(page, d: dict) -> None:
    """Every figure of ``d`` is on the page: as the section's text and in its chart's aria-label."""
    want = expected(d)
    for section, lines in want.items():
        expect(_section(page, section)).to_be_visible()
        assert _lines(page, section) == lines, (section, _lines(page, section), lines)
    sub = d["subjects"]
    big = {
        "在矫对象": f"{sub['total']} 人在矫",
        "待办工作": f"{d['work']['open']} 项待办,{d['work']['overdue']} 项逾期",
        "预警": f"{d['warnings']['unhandled']} 条未处理",
        "矫正建议": f"{d['suggestions']['total']} 条建议",
        "打卡情况": f"{pct(d['checkins']['rate_pct'])} 打卡合规率",
    }
    for section, text in big.items():
        expect(_section(page, section).locator(".sd-big")).to_have_text(text)
    # the charts carry the same figures in their aria-label (ECharts' aria description too)
    grade_chart = _charts(page, "在矫对象")[0]
    for line in want["在矫对象"][: len(sub["by_grade"]) + 2]:
        assert line in grade_chart, (line, grade_chart)
    work_chart = " ".join(_charts(page, "待办工作"))
    for line in want["待办工作"]:
        assert line == "暂无待办" or line in work_chart, (line, work_chart)
    warning_chart = " ".join(_charts(page, "预警"))
    for k in d["warnings"]["by_kind"]:
        assert f"{WARNING_KIND[k['kind']]} {k['open'] + k['acknowledged']} 条" in warning_chart, warning_chart
    dist_chart = _charts(page, "积分分布")[0]
    for line in want["积分分布"]:
        assert line == "暂无评分" or line in dist_chart, (line, dist_chart)
    trend_chart = _charts(page, "积分趋势")[0]
    for t in d["trend"]:
        if t["average"] is not None:
            assert f"{t['date']} {num(t['average'])} 分({t['subjects']} 人)" in trend_chart, trend_chart
    # the trend's table: one row a day, as the API gives it
    _section(page, "积分趋势").get_by_text("逐日数据").click()
    rows = _section(page, "积分趋势").get_by_role("table", name="逐日平均分").locator("tbody tr").all_inner_texts()
    assert [re.split(r"\s+", r.strip()) for r in rows] == [
        [t["date"], "—" if t["average"] is None else num(t["average"]), str(t["subjects"])] for t in d["trend"]
    ]
    c = d["checkins"]
    checkin_charts = [label for label in _charts(page, "打卡情况") if label]  # ECharts' own svg has none
    if c["due"]:
        assert checkin_charts == [
            f"近30天打卡:应打卡 {c['due']} 个周期,按时 {c['on_time']} 个,迟到 {c['late']} 个,"
            f"漏打卡 {c['missed']} 个,合规率 {pct(c['rate_pct'])}"
        ], checkin_charts
    else:
        assert checkin_charts == [], checkin_charts
    expect(_section(page, "打卡情况").locator(".notice")).to_have_text(
        f"统计 {c['from']} 起 {c['days']} 天内已有结果的打卡周期;合规率 =(按时 + 迟到)÷ 应打卡。"
    )
    if len(d["offices"]) > 1:  # the offices' chart carries every office's line (compliance included)
        offices_chart = _charts(page, "各司法所")[0]
        for line in want["各司法所"]:
            assert line in offices_chart, (line, offices_chart)
    if d["suggestions"]["open_by_category"]:
        cats = _charts(page, "矫正建议")[0]
        for k, n in d["suggestions"]["open_by_category"].items():
            assert f"{SUGGESTION_CATEGORY[k]} {n} 条" in cats, cats


def _open_dashboard_matching(page, server, token: str, route: str, office_id: int | None = None) -> dict:
    """Open the dashboard and return the API's answer read around it (read again if the data moved meanwhile)."""
    for _ in range(3):
        before = _dashboard(server, token, office_id)
        page.goto("/app/#" + route)
        expect(_section(page, "各司法所")).to_be_visible(timeout=60_000)
        after = _dashboard(server, token, office_id)
        if before == after:
            return after
    raise AssertionError("the dashboard's data kept changing")


def test_officer_dashboard_shows_the_api_figures_of_their_office_only(page, server):
    token = _token(server, "officer1")
    login(page, "officer1")
    d = _open_dashboard_matching(page, server, token, "/dashboard")
    expect(page.get_by_role("heading", level=1, name="驾驶舱")).to_be_visible()
    check_figures(page, d)
    # an officer's account only ever shows its offices: 富春司法所, never 银湖司法所
    assert [o["name"] for o in d["offices"]] == ["富春司法所"]
    expect(page.get_by_label("统计范围")).to_have_text("统计范围:富春司法所")
    assert "银湖司法所" not in page.locator("#app").inner_text()
    expect(page.get_by_label("司法所", exact=True)).to_have_count(0)  # nothing to choose between
    expect(page.get_by_role("link", name="大屏模式")).to_have_count(0)  # the wall display is the bureau's
    # the counts are the API's live ones (other journeys sharing the server may enrol subjects): the subjects
    # in correction the officer's list has, and the bureau's row of 富春司法所; subject6 of the demo is red
    assert d["subjects"]["total"] == _in_correction(server, token) == d["offices"][0]["subjects"]
    bureau_rows = {o["name"]: o for o in _dashboard(server, _token(server, "bureau1"))["offices"]}
    same = ("office_id", "subjects", "by_colour", "checkins")
    assert {k: bureau_rows["富春司法所"][k] for k in same} == {k: d["offices"][0][k] for k in same}
    assert d["subjects"]["by_colour"]["red"] >= 1
    # the demo's check-ins of the last weeks: on time, late and missed periods, so the rate is below 100%
    c = d["checkins"]
    assert c["on_time"] and c["missed"] and c["due"] == c["on_time"] + c["late"] + c["missed"], c


def test_bureau_dashboard_per_office_and_the_large_screen(page, server):
    token = _token(server, "bureau1")
    login(page, "bureau1")
    d = _open_dashboard_matching(page, server, token, "/dashboard")
    check_figures(page, d)
    names = [o["name"] for o in d["offices"]]
    assert names == ["富春司法所", "银湖司法所"]
    assert d["subjects"]["total"] == sum(o["subjects"] for o in d["offices"]) == _in_correction(server, token)
    for key in ("due", "on_time", "late", "missed", "subjects_missed"):
        assert d["checkins"][key] == sum(o["checkins"][key] for o in d["offices"]), key
    expect(page.get_by_label("统计范围")).to_have_text("统计范围:富春司法所、银湖司法所")
    offices_chart = _charts(page, "各司法所")[0]
    assert all(name in offices_chart for name in names), offices_chart

    # one office: the figures are GET /staff/dashboard?office_id=…'s
    yinhu = next(o["office_id"] for o in d["offices"] if o["name"] == "银湖司法所")
    one = _dashboard(server, token, yinhu)
    page.get_by_label("司法所", exact=True).select_option(label="银湖司法所")
    expect(page.get_by_label("统计范围")).to_have_text("统计范围:银湖司法所")
    expect(page).to_have_url(re.compile(rf"#/dashboard\?office={yinhu}$"))
    check_figures(page, one)
    row = next(o for o in d["offices"] if o["office_id"] == yinhu)
    assert one["subjects"]["total"] == row["subjects"] == _in_correction(server, token, yinhu)
    assert one["checkins"] == {**d["checkins"], **row["checkins"]}

    # the wall display: the same figures, key numbers as labelled tiles, refreshing by itself
    page.goto("/app/#/dashboard?screen=large&refresh=5")
    expect(page.get_by_role("heading", level=1, name="富阳区社区矫正驾驶舱")).to_be_visible()
    expect(_section(page, "各司法所")).to_be_visible()
    now = _dashboard(server, token)
    check_figures(page, now)
    kpis = page.get_by_role("region", name="关键指标")
    for text, value in (
        ("在矫对象", now["subjects"]["total"]),
        ("红色等级", now["subjects"]["by_colour"]["red"]),
        ("待办", now["work"]["open"]),
        ("逾期", now["work"]["overdue"]),
        ("未处理预警", now["warnings"]["unhandled"]),
        ("打卡合规率", pct(now["checkins"]["rate_pct"])),
        ("建议", now["suggestions"]["total"]),
    ):
        expect(kpis.get_by_role("group", name=f"{text} {value}", exact=True)).to_be_visible()
    status = page.get_by_role("status").filter(has_text="自动刷新")
    expect(status).to_contain_text("每 5 秒自动刷新")
    done = int(re.search(r"已刷新 (\d+) 次", status.inner_text()).group(1))
    expect(status).to_contain_text(f"已刷新 {done + 1} 次", timeout=20_000)
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(11, 21, 38)"  # dark
    page.get_by_role("link", name="退出大屏").click()
    expect(page.get_by_role("heading", level=1, name="驾驶舱")).to_be_visible()


def test_csv_exports_download_through_the_api_client(page, server, tmp_path):
    token = _token(server, "officer1")
    sent: list = []
    page.on("request", lambda r: "/api/v1/staff/" in r.url and sent.append(r))
    login(page, "officer1")
    page.goto("/app/#/dashboard")
    exports = page.get_by_role("region", name="导出数据")
    for title in ("对象名单", "待办", "申请", "预警", "走访报告", "建议", "积分调整", "申诉", "加分申请"):
        expect(exports.get_by_role("button", name=f"导出 CSV:{title}", exact=True)).to_be_visible()

    with page.expect_download() as dl:
        exports.get_by_role("button", name="导出 CSV:预警", exact=True).click()
    download = dl.value
    assert download.suggested_filename == "warnings.csv"
    rows = _csv(Path(download.path()).read_text(encoding="utf-8-sig"))
    api_rows = json.loads(_get(server, "/staff/warnings?page_size=200", token)[0])
    assert sorted(int(r["id"]) for r in rows) == sorted(w["id"] for w in api_rows) and rows
    by_id = {w["id"]: w for w in api_rows}
    for r in rows:
        w = by_id[int(r["id"])]
        assert (r["kind"], r["status"], r["subject_name"]) == (w["kind"], w["status"], w["subject_name"])
        assert re.fullmatch(r"\d{3}\*+[0-9X]{4}|\d{3}\*+\d{3}[0-9X]", r["id_number_masked"]), r["id_number_masked"]

    # the token went in the Authorization header, never in a URL
    csv_calls = [r for r in sent if r.headers.get("accept") == "text/csv"]
    assert csv_calls and all(r.url.endswith("/api/v1/staff/warnings") for r in csv_calls)
    assert all(r.all_headers()["authorization"].startswith("Bearer ") for r in csv_calls)
    assert not [r.url for r in sent if "token" in r.url.lower()]

    # the subject list as CSV, the same rows as the API's own CSV
    with page.expect_download() as dl:
        exports.get_by_role("button", name="导出 CSV:对象名单", exact=True).click()
    assert dl.value.suggested_filename == "subjects.csv"
    mine = _csv(Path(dl.value.path()).read_text(encoding="utf-8-sig"))
    theirs = _csv(_get(server, "/staff/subjects", token, "text/csv")[0].decode("utf-8-sig"))
    assert mine == theirs and len(mine) >= 26
    assert {r["office_id"] for r in mine} == {str(o["office_id"]) for o in _dashboard(server, token)["offices"]}

    # an expired access token is refreshed (rotating refresh token) and the download goes on
    before = json.loads(page.evaluate("localStorage.getItem('zhijiao.session')"))
    page.evaluate(
        "s => localStorage.setItem('zhijiao.session', JSON.stringify({...s, access: s.access.slice(0, -4) + 'AAAA'}))",
        before,
    )
    with page.expect_download() as dl:
        exports.get_by_role("button", name="导出 CSV:建议", exact=True).click()
    assert dl.value.suggested_filename == "suggestions.csv"
    after = json.loads(page.evaluate("localStorage.getItem('zhijiao.session')"))
    assert after["refresh"] != before["refresh"] and after["access"] != before["access"]
    rows = _csv(Path(dl.value.path()).read_text(encoding="utf-8-sig"))
    assert len(rows) == len(json.loads(_get(server, "/staff/suggestions?page_size=200", token)[0]))
    # a list without a CSV form: the API's 406 becomes an error with the server's Chinese message
    refused = page.evaluate(
        "import('/app/js/api.js').then((api) => api.download('/staff/dashboard').then("
        "() => null, (e) => [e.status, e.code, e.message]))"
    )
    assert refused == [406, "NOT_ACCEPTABLE", "该接口不提供所要求的格式(如 CSV)"], refused


def test_bureau_exports_one_office(page, server):
    token = _token(server, "bureau1")
    login(page, "bureau1")
    offices = _dashboard(server, token)["offices"]
    yinhu = next(o["office_id"] for o in offices if o["name"] == "银湖司法所")
    page.goto(f"/app/#/dashboard?office={yinhu}")
    with page.expect_download() as dl:
        page.get_by_role("button", name="导出 CSV:对象名单", exact=True).click()
    rows = _csv(Path(dl.value.path()).read_text(encoding="utf-8-sig"))
    assert rows and {r["office_id"] for r in rows} == {str(yinhu)}


def _counts(server, token: str) -> tuple[int, int, int]:
    """My open and overdue inbox items and my unread notifications, as the API counts them."""
    _, open_h = _get(server, "/staff/inbox?page_size=1", token)
    _, overdue_h = _get(server, "/staff/inbox?page_size=1&overdue=true", token)
    notes = json.loads(_get(server, "/me/notifications?page_size=200", token)[0])
    total = [json.loads(h["X-Pagination"])["total"] for h in (open_h, overdue_h)]
    return total[0], total[1], sum(1 for n in notes if not n["read_at"])


def _home_summary(page, server, token: str) -> tuple[int, int, int]:
    """The home's summary equals the API's counts (read around it: notifications may arrive meanwhile)."""
    for _ in range(3):
        before = _counts(server, token)
        page.goto("/app/#/")
        page.reload()
        summary = page.get_by_role("region", name="我的工作")
        expect(summary).to_be_visible()
        shown = (summary.inner_text(), summary.get_by_role("link").get_attribute("aria-label"))
        if _counts(server, token) == before:
            open_, overdue, unread = before
            assert re.sub(r"\s+", "", shown[0]).startswith(f"{open_}项待办{overdue}项逾期{unread}条未读消息"), shown
            assert shown[1] == f"消息:未读 {unread} 条", shown
            return before
    raise AssertionError("the counts kept changing")


def test_staff_home_tabs_reach_each_screen_and_nothing_leaves_the_origin(page, server):
    token = _token(server, "officer1")
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    login(page, "officer1")
    expect(page.get_by_role("heading", level=1, name="矫务通")).to_be_visible()
    # the summary: my open and overdue work, my unread messages, as the API counts them
    _home_summary(page, server, token)

    tabs = page.get_by_role("navigation", name="矫务通导航")
    expect(tabs.get_by_role("link")).to_have_text(["首页", "待办", "预警", "建议", "对象", "驾驶舱", "我的"])
    expect(tabs.get_by_role("link", name="首页")).to_have_attribute("aria-current", "page")
    hashes = {
        "待办": "#/inbox",
        "预警": "#/warnings",
        "建议": "#/suggestions",
        "对象": "#/subjects",
        "驾驶舱": "#/dashboard",
        "我的": "#/mine",
    }
    for tab, heading in TAB_HEADINGS.items():
        page.goto("/app/#/")
        expect(page.get_by_role("heading", level=1, name="矫务通")).to_be_visible()
        page.get_by_role("navigation", name="矫务通导航").get_by_role("link", name=tab, exact=True).click()
        expect(page).to_have_url(re.compile(re.escape(hashes[tab]) + "$"))
        expect(page.get_by_role("heading", level=1, name=heading, exact=True)).to_be_visible()
        page.wait_for_load_state("networkidle")
        if tab in TABBED:  # the screens that carry the tabs mark their own tab current
            nav = page.get_by_role("navigation", name="矫务通导航")
            expect(nav.get_by_role("link", name=tab, exact=True)).to_have_attribute("aria-current", "page")

    # 消息: the officer's own notifications, read flags included; reading one marks it read
    page.goto("/app/#/")
    page.get_by_role("link", name=re.compile(r"^消息:未读 \d+ 条$")).click()
    expect(page.get_by_role("heading", level=1, name="消息")).to_be_visible()
    buttons = page.get_by_role("list", name="消息列表").get_by_role("button")
    expect(buttons.first).to_be_visible()
    labels = [b.get_attribute("aria-label") for b in buttons.all()]
    i = next(i for i, text in enumerate(labels) if text.startswith("未读 "))
    with page.expect_response(lambda r: re.search(r"/me/notifications/\d+/read$", r.url) is not None) as read:
        buttons.nth(i).click()
    expect(buttons.nth(i)).to_have_attribute("aria-label", labels[i][3:])
    nid = int(re.search(r"/notifications/(\d+)/read$", read.value.url).group(1))
    notes = json.loads(_get(server, "/me/notifications?page_size=200", token)[0])
    assert next(n for n in notes if n["id"] == nid)["read_at"]
    _home_summary(page, server, token)

    page.goto("/app/#/dashboard?screen=large")
    expect(page.get_by_role("region", name="关键指标")).to_be_visible(timeout=60_000)
    page.wait_for_load_state("networkidle")
    assert any("/api/v1/staff/dashboard" in u for u in seen)
    foreign = [u for u in seen if not (u.startswith(server.base + "/") or u.startswith(("data:", "blob:")))]
    assert not foreign, foreign
