// 矫务通 对象 screens: the subject list, a subject's profile, enrolment, face references, level, transfer, release.
// Public API only (docs/roles.md#enrolment-and-activation, #recovery; docs/audit-and-privacy.md#location-history,
// #face-data; docs/requests.md#residence-change-and-transfer; docs/score.md#release-and-export).
import * as api from "../api.js";
import {
  alert,
  cameraInput,
  confirm,
  field,
  fmtTime,
  go,
  h,
  label,
  loader,
  loading,
  loadMore,
  notice,
  progress,
  reactive,
  screen,
  state,
  toast,
  V,
} from "../ui.js";

const { markRaw, nextTick, onMounted, onBeforeUnmount, ref, watch } = Vue;

// ---------------------------------------------------------------------------------------------------------------
// words

const L = {
  gender: { male: "男", female: "女" },
  correction_type: { control: "管制", probation: "缓刑", parole: "假释", temporary_execution: "暂予监外执行" },
  supervision_level: { strict: "严管", normal: "普管", lenient: "宽管" },
  risk_level: { low: "低风险", medium: "中风险", high: "高风险" },
  status: { in_correction: "在矫", released: "已解矫" },
  legal_basis: {
    statutory_duty: "依法履职(《社区矫正法》第二十六条)",
    consent: "本人单独同意",
  },
  face_source: { enrolment: "入矫采集", cleared_checkin: "已核实的打卡照片" },
  point_source: { checkin: "打卡", upload: "照片" },
  // the grades of the default rule set (docs/score.md#grades); the list shows each subject's grade_name as sent
  grade: { excellent: "信用优秀(绿)", good: "信用良好(蓝)", fair: "信用一般(黄)", poor: "信用较差(橙)", severe: "失信严重(红)" },
};
const COLOUR = { green: "#07c160", blue: "#1989fa", yellow: "#e6a23c", orange: "#ff976a", red: "#ee0a24" };
const COLOUR_NAME = { green: "绿码", blue: "蓝码", yellow: "黄码", orange: "橙码", red: "红码" };
const word = (kind, v) => (L[kind] && L[kind][v]) || v || "";
const opts = (kind, blank) => [...(blank ? [["", blank]] : []), ...Object.entries(L[kind])];
const FIELD_NAMES = {
  name: "姓名",
  id_number: "身份证号",
  phone: "手机号",
  start_date: "开始日期",
  end_date: "结束日期",
  office_id: "司法所",
  grid_id: "网格",
  officer_id: "负责人",
  username: "用户名",
  purpose: "查询目的",
  date_from: "开始日期",
  date_to: "结束日期",
  notice_given_at: "告知时间",
  upload_id: "照片",
  request_id: "执行地变更申请",
};

// the server's Chinese message, and its field messages named in Chinese
function errText(err) {
  const parts = Object.entries(err.errors || {}).map(
    ([k, v]) => `${FIELD_NAMES[k] || k}:${Array.isArray(v) ? v.join(";") : typeof v === "object" ? JSON.stringify(v) : v}`,
  );
  return parts.length ? `${err.message}(${parts.join(";")})` : err.message;
}

const pad = (n) => String(n).padStart(2, "0");
const ymd = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const daysAgo = (n) => ymd(new Date(Date.now() - n * 86400000));
// a datetime-local value (minutes, local time) of now: in the past by the time it is sent
function localNow() {
  const d = new Date();
  return `${ymd(d)}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// ---------------------------------------------------------------------------------------------------------------
// org units of my jurisdiction (GET /staff/org-units): the names of offices and grids, which grids belong to which
// office, and the district's area (GeoJSON) for the location drawing

const unitNames = {}; // id -> name, filled when the units arrive (a render after that shows the names)
let orgCache = null;
function orgs() {
  if (!orgCache)
    orgCache = (async () => {
      const units = await api.get("/staff/org-units");
      const names = {};
      const offices = new Map();
      const grids = new Map(); // office id -> Set of grid ids
      units.forEach((u) => {
        names[u.id] = u.name;
        unitNames[u.id] = u.name;
        if (u.level === "office") offices.set(u.id, u.name);
      });
      units
        .filter((u) => u.level === "grid")
        .forEach((u) => {
          if (!grids.has(u.parent_id)) grids.set(u.parent_id, new Set());
          grids.get(u.parent_id).add(u.id);
        });
      return { names, offices, grids, areas: units.filter((u) => u.level === "district" && u.area).map((u) => u.area) };
    })().catch((err) => {
      orgCache = null;
      throw err;
    });
  return orgCache;
}
const officeName = (o, id) => (o && o.names[id]) || unitNames[id] || `司法所 ${id}`;
const gridName = (id) => unitNames[id] || `网格 ${id}`;
function gridOptions(o, officeId, blank) {
  const ids = officeId ? [...((o && o.grids.get(Number(officeId))) || [])] : [...((o && o.grids.values()) || [])].flatMap((s) => [...s]);
  return [...(blank ? [["", blank]] : []), ...[...new Set(ids)].sort((a, b) => a - b).map((id) => [String(id), gridName(id)])];
}

// a paged list with query parameters: load(1) reads it again, load(page + 1) appends
function pagedQuery(path, params) {
  const list = reactive({ items: [], more: false, page: 1, error: "", loaded: false, total: null });
  let seq = 0; // a newer search wins over an older answer that arrives late
  const load = async (p = 1) => {
    const mine = ++seq;
    try {
      const r = await api.page(path, { ...params(), page: p, page_size: 20 });
      if (mine !== seq) return;
      list.items = p === 1 ? r.items : list.items.concat(r.items);
      list.more = r.more;
      list.page = p;
      list.total = r.total;
      list.error = "";
      list.loaded = true;
    } catch (err) {
      if (mine === seq) list.error = errText(err);
    }
  };
  load();
  return [list, load];
}

function section(title, children, attrs = {}) {
  return h("section", { class: "card", "aria-label": title, ...attrs }, [h("h2", title), ...children]);
}

function dl(rows) {
  return h(
    "dl",
    { class: "ss-dl" },
    rows
      .filter(Boolean)
      .flatMap(([k, v]) => [h("dt", k), h("dd", v === null || v === undefined || v === "" ? "—" : Array.isArray(v) ? v : String(v))]),
  );
}

const small = (text, onClick, attrs = {}) => h(V.Button, { size: "small", nativeType: "button", onClick, ...attrs }, () => text);
const submitButton = (text, busy) => h(V.Button, { type: "primary", block: true, nativeType: "submit", loading: busy }, () => text);
const subjectId = () => Number(state.route.query.id);
const isOfficer = () => state.user && state.user.role === "officer";

// ---------------------------------------------------------------------------------------------------------------
// 对象 list: search and filters, 加载更多

export const SubjectList = {
  setup() {
    const f = reactive({ q: "", office_id: "", grid_id: "", grade: "", supervision_level: "", risk_level: "", status: "in_correction" });
    const o = reactive({ data: null });
    orgs()
      .then((x) => (o.data = x))
      .catch(() => {});
    watch(
      () => f.office_id,
      () => (f.grid_id = ""),
    );
    const [list, load] = pagedQuery("/staff/subjects", () => ({ ...f, q: f.q.trim() }));
    const search = (e) => {
      e.preventDefault();
      load(1);
    };
    const item = (s) => {
      const where = `${officeName(o.data, s.office_id)} ${gridName(s.grid_id)}`;
      const levels = `${word("supervision_level", s.supervision_level)} ${word("risk_level", s.risk_level)}`;
      const score =
        s.score_total === null || s.score_total === undefined
          ? "暂无积分"
          : `${s.score_total} 分 ${s.grade_name || s.grade}${COLOUR_NAME[s.colour] ? `(${COLOUR_NAME[s.colour]})` : ""}${s.base_pending ? " 临时分" : ""}`;
      return h("li", { class: "card" }, [
        h(
          "a",
          { class: "row", href: `#/subjects/view?id=${s.id}`, "aria-label": `${s.name} ${word("status", s.status)} ${score} ${levels} ${where}` },
          [
            h("p", [
              h("strong", s.name),
              ` ${word("gender", s.gender)} · ${word("correction_type", s.correction_type)} · ${word("status", s.status)} `,
              h("span", { class: "grade ss-grade", style: { background: COLOUR[s.colour] || "#969799", color: "#fff", padding: "0 6px", borderRadius: "4px" } }, score),
            ]),
            h("p", { class: "time" }, `${levels} · ${where} · ${s.start_date} 至 ${s.end_date}`),
          ],
        ),
      ]);
    };
    return () =>
      screen("矫正对象", [
        isOfficer() ? h("p", [h("a", { href: "#/subjects/enrol", class: "van-button van-button--primary van-button--normal van-button--block ss-linkbutton" }, "入矫登记")]) : null,
        h("form", { class: "card ss-filters", onSubmit: search, role: "search", "aria-label": "查找对象" }, [
          field("姓名", f, "q", { type: "search", maxlength: 100, placeholder: "输入姓名查找" }),
          h("div", { class: "ss-grid" }, [
            field("司法所", f, "office_id", {
              options: [["", "全部司法所"], ...[...((o.data && o.data.offices) || new Map())].map(([id, n]) => [String(id), n])],
            }),
            field("网格", f, "grid_id", { options: gridOptions(o.data, f.office_id, "全部网格") }),
            field("信用等级", f, "grade", { options: opts("grade", "全部信用等级") }),
            field("监管等级", f, "supervision_level", { options: opts("supervision_level", "全部等级") }),
            field("风险等级", f, "risk_level", { options: opts("risk_level", "全部风险等级") }),
            field("状态", f, "status", { options: opts("status", "全部状态") }),
          ]),
          submitButton("查询", false),
        ]),
        alert(list.error),
        list.loaded ? h("p", { class: "notice", role: "status" }, `共 ${list.total ?? list.items.length} 人`) : null,
        h("ul", { class: "list", "aria-label": "对象列表" }, list.items.map(item)),
        list.loaded && !list.items.length ? h("p", "没有符合条件的对象") : null,
        loadMore(list.more, () => load(list.page + 1)),
      ]);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// the profile

function trendChart(days) {
  // ECharts (SVG renderer) with its aria description; the figures also as text below the chart
  return {
    setup() {
      const el = ref(null);
      let chart = null;
      const summary = () => {
        if (!days.length) return "积分趋势:暂无数据";
        const first = days[0];
        const last = days[days.length - 1];
        const totals = days.map((d) => d.total);
        return `积分趋势:${first.date} ${first.total} 分,${last.date} ${last.total} 分,最高 ${Math.max(...totals)} 分,最低 ${Math.min(...totals)} 分`;
      };
      onMounted(() => {
        if (!window.echarts || !el.value) return;
        chart = echarts.init(el.value, null, { renderer: "svg" });
        chart.setOption({
          aria: { enabled: true, label: { description: summary() } },
          grid: { left: 44, right: 12, top: 16, bottom: 28 },
          xAxis: { type: "category", data: days.map((d) => String(d.date).slice(5)) },
          yAxis: { type: "value", scale: true },
          tooltip: { trigger: "axis" },
          series: [{ type: "line", data: days.map((d) => d.total), smooth: true, name: "信用积分" }],
        });
      });
      onBeforeUnmount(() => chart && chart.dispose());
      return () =>
        h("figure", { class: "chart" }, [
          h("div", { ref: el, class: "chart-box", role: "img", "aria-label": summary() }),
          h("figcaption", summary()),
        ]);
    },
  };
}

// a check-in's mark on the calendar: [words, sign, class]
function checkinMark(c) {
  const where = c.inside_area === false ? "(超出活动范围)" : "";
  if (c.status === "invalid") return ["打卡无效" + where, "✗", "ss-missed"];
  if (c.status === "pending") return ["打卡核验中" + where, "…", "ss-late"];
  if (c.outcome === "late") return ["迟到报到" + where, "迟", "ss-late"];
  if (c.outcome === "extra") return ["额外打卡" + where, "+", c.inside_area === false ? "ss-late" : "ss-ok"];
  return ["按时报到" + where, "✓", c.inside_area === false ? "ss-late" : "ss-ok"];
}
const MISSED_MARK = ["未按时报到", "✗", "ss-missed"];

// the last five weeks, Monday first: each day shows the subject's check-ins (GET /staff/subjects/{id}/checkins) and
// the periods found missed (CHECKIN_MISSED events: a missed period has no check-in to list)
function checkinCalendar(checkins, events) {
  const byDay = {};
  checkins.forEach((c) => {
    const d = ymd(new Date(c.received_at));
    (byDay[d] = byDay[d] || []).push(checkinMark(c));
  });
  events
    .filter((e) => e.rule_code === "CHECKIN_MISSED" && e.status !== "revoked")
    .forEach((e) => {
      const d = ymd(new Date(e.occurred_at));
      (byDay[d] = byDay[d] || []).push(MISSED_MARK);
    });
  const today = new Date();
  const start = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 34);
  start.setDate(start.getDate() - ((start.getDay() + 6) % 7)); // back to Monday
  const cells = [];
  for (let d = new Date(start); d <= today; d.setDate(d.getDate() + 1)) {
    const key = ymd(d);
    const marks = byDay[key] || [];
    const text = marks.length ? marks.map((m) => m[0]).join("、") : "无报到记录";
    cells.push(
      h(
        "li",
        { class: "ss-day" + (marks.length ? " " + marks[0][2] : ""), "aria-label": `${d.getMonth() + 1}月${d.getDate()}日 ${text}` },
        [h("span", { class: "ss-daynum", "aria-hidden": "true" }, String(d.getDate())), h("span", { "aria-hidden": "true" }, marks.map((m) => m[1]).join(""))],
      ),
    );
  }
  const recent = checkins.filter((c) => new Date(c.received_at) >= start);
  const n = (pred) => recent.filter(pred).length;
  const missed = events.filter((e) => e.rule_code === "CHECKIN_MISSED" && e.status !== "revoked" && new Date(e.occurred_at) >= start).length;
  return section("报到日历", [
    h("ol", { class: "ss-weekdays", "aria-hidden": "true" }, ["一", "二", "三", "四", "五", "六", "日"].map((w) => h("li", w))),
    h("ol", { class: "ss-calendar" }, cells),
    h(
      "p",
      `近五周:打卡 ${recent.length} 次(按时 ${n((c) => c.status === "counted" && c.outcome === "on_time")} 次,迟到 ${n((c) => c.outcome === "late")} 次,超出活动范围 ${n((c) => c.inside_area === false)} 次),未报到 ${missed} 次`,
    ),
  ]);
}

// minutes a session counts: online as credited; offline and 集中教育 once confirmed (claimed minutes)
const sessionMinutes = (e) => (e.mode === "online" ? e.credited_minutes || 0 : e.status === "verified" ? e.claimed_minutes || 0 : 0);

// learning by month from the sessions (GET /staff/subjects/{id}/education-sessions)
function educationMonths(sessions) {
  const months = {};
  sessions.forEach((e) => {
    const m = ymd(new Date(e.started_at)).slice(0, 7);
    const x = (months[m] = months[m] || { minutes: 0, count: 0, pending: 0 });
    x.count += 1;
    x.minutes += sessionMinutes(e);
    if (e.status === "pending") x.pending += 1;
  });
  const keys = Object.keys(months).sort().reverse();
  return section("学习情况(按月)", [
    keys.length
      ? h(
          "ul",
          { class: "ss-plain", "aria-label": "每月学习" },
          keys.map((k) => h("li", `${k}:学习 ${months[k].count} 次,计入 ${months[k].minutes} 分钟${months[k].pending ? `,${months[k].pending} 次待确认` : ""}`)),
        )
      : h("p", "没有学习记录"),
    sessions.length
      ? h(
          "ul",
          { class: "ss-plain", "aria-label": "学习记录" },
          sessions.slice(0, 10).map((e) =>
            h("li", `${fmtTime(e.started_at).slice(0, 10)} ${label("education_mode", e.mode)}:${e.course},${label("education_status", e.status)}${sessionMinutes(e) ? `,${sessionMinutes(e)} 分钟` : ""}`),
          ),
        )
      : null,
  ]);
}

// community service from the reports (GET /staff/subjects/{id}/service-reports)
function serviceHours(reports) {
  const verified = reports.filter((r) => r.status === "verified");
  const total = verified.reduce((n, r) => n + Math.floor((r.minutes || 0) / 60), 0);
  const pending = reports.filter((r) => r.status === "pending").length;
  return section("公益服务", [
    h("p", `已核实公益服务 ${total} 小时${pending ? `,${pending} 条待核实` : ""}`),
    reports.length
      ? h(
          "ul",
          { class: "ss-plain", "aria-label": "公益服务记录" },
          reports.slice(0, 10).map((r) =>
            h("li", `${fmtTime(r.started_at).slice(0, 10)} ${r.activity_type}(${r.place}):${Math.floor((r.minutes || 0) / 60)} 小时,${label("service_status", r.status)}`),
          ),
        )
      : h("p", "没有公益服务记录"),
  ]);
}

function scoreSection(sc) {
  if (!sc) return null;
  const up = sc.to_next_grade && sc.to_next_grade.up;
  return h("section", { class: "card score", "aria-label": `信用积分 ${sc.total} 分,${sc.grade_name}` }, [
    h("h2", "信用积分"),
    h("p", { class: "total" }, [h("strong", String(sc.total)), " 分 ", h("span", { class: "grade", style: { background: sc.colour } }, sc.grade_name)]),
    up ? h("p", `距${up.grade_name}还差 ${up.points} 分`) : null,
    sc.base_pending ? h("p", "基础分待定(临时分)") : null,
    sc.frozen ? h("p", "已解矫,积分已冻结") : null,
    h("h3", { class: "ss-h3" }, "六个维度"),
    h(
      "ul",
      { class: "ss-plain", "aria-label": "六个维度" },
      (sc.dimension_details || []).map((d) => h("li", { "aria-label": `${d.name} ${d.points} 分,满分 ${d.max}` }, `${d.name}:${d.points} / ${d.max}`)),
    ),
  ]);
}

// 重新生成激活码: a confirm dialog, then the code shown once (kept only in this screen's memory)
function useReissue(id, onDone) {
  const m = reactive({ code: null, busy: false, error: "" });
  const run = async (name) => {
    m.error = "";
    const ok = await confirm("重新生成激活码", `将为${name}生成新的一次性激活码,原激活码立即失效;对象用新激活码激活时会设置新密码并退出所有已登录设备。确定生成吗?`);
    if (!ok) return;
    m.busy = true;
    try {
      m.code = await api.create(`/staff/subjects/${id}/activation-code`, {});
      nextTick(() => {
        const card = document.querySelector(".ss-code");
        if (card) card.scrollIntoView({ block: "center" });
      });
      onDone && onDone();
    } catch (err) {
      m.error = errText(err);
    } finally {
      m.busy = false;
    }
  };
  return { m, run };
}

function codeCard(c, onHide) {
  if (!c) return null;
  return h("section", { class: "card ss-code", role: "status", "aria-label": "激活码" }, [
    h("h2", "激活码(只显示这一次)"),
    h("p", ["用户名:", h("strong", { class: "ss-username" }, c.username)]),
    h("p", ["激活码:", h("strong", { class: "ss-codetext", "aria-label": `激活码 ${c.activation_code}` }, c.activation_code)]),
    h("p", `有效期至 ${fmtTime(c.activation_expires_at)}`),
    h("p", { class: "notice" }, "请当面交给对象,由对象在“在矫通”中点“激活账号”并设置自己的密码。离开本页后激活码不再显示。"),
    onHide ? small("已交给对象,隐藏激活码", onHide) : null,
  ]);
}

export const SubjectView = {
  setup() {
    const id = subjectId();
    // the profile first; the score, its trend, the events and requests and the office names as they arrive
    const [s] = loader(() => api.get(`/staff/subjects/${id}`));
    const x = reactive({ ready: false, score: null, chart: null, events: [], checkins: [], sessions: [], reports: [], requests: [], orgs: null });
    const none = { items: [] };
    Promise.all([
      api.get(`/staff/subjects/${id}/score`).catch(() => null),
      api.get(`/staff/subjects/${id}/score/history`, { date_from: daysAgo(90) }).catch(() => ({ days: [] })),
      api.page(`/staff/subjects/${id}/score/events`, { rule_code: "CHECKIN_MISSED", date_from: daysAgo(50), page_size: 200 }).catch(() => none),
      api.page(`/staff/subjects/${id}/checkins`, { date_from: daysAgo(50), page_size: 200 }).catch(() => none),
      api.page(`/staff/subjects/${id}/education-sessions`, { page_size: 200 }).catch(() => none),
      api.page(`/staff/subjects/${id}/service-reports`, { page_size: 200 }).catch(() => none),
      api.page("/staff/requests", { subject_id: id, page_size: 50 }).catch(() => none),
    ]).then(([score, history, events, checkins, sessions, reports, requests]) => {
      // one chart component for the page (a new one on every render would redraw it each time)
      Object.assign(x, {
        score,
        chart: markRaw(trendChart(history.days || [])),
        events: events.items,
        checkins: checkins.items,
        sessions: sessions.items,
        reports: reports.items,
        requests: requests.items,
        ready: true,
      });
    });
    orgs()
      .then((o) => (x.orgs = markRaw(o)))
      .catch(() => {});
    const ev = reactive({ items: [], more: false, page: 1, error: "" });
    const loadEvents = async (p = 1) => {
      try {
        const r = await api.page(`/staff/subjects/${id}/score/events`, { page: p, page_size: 20 });
        ev.items = p === 1 ? r.items : ev.items.concat(r.items);
        ev.more = r.more;
        ev.page = p;
      } catch (err) {
        ev.error = errText(err);
      }
    };
    loadEvents();
    const reissue = useReissue(id);
    // the full ID number: only with a purpose, audited by the API (docs/audit-and-privacy.md#sensitive-reads-and-purposes)
    const idn = reactive({ open: false, purpose: "", value: "", error: "", busy: false });
    const reveal = async (e) => {
      e.preventDefault();
      idn.error = "";
      if (!idn.purpose.trim()) return (idn.error = "请填写查看目的:完整身份证号的每次查看都记入审计日志");
      idn.busy = true;
      try {
        idn.value = (await api.get(`/staff/subjects/${id}`, { reveal: "id_number", purpose: idn.purpose.trim() })).id_number;
        idn.open = false;
      } catch (err) {
        idn.error = errText(err);
      } finally {
        idn.busy = false;
      }
    };
    const idNumber = (sub) => [
      h("span", idn.value || sub.id_number_masked),
      idn.value || idn.open ? null : h("button", { type: "button", class: "ss-linkish", onClick: () => (idn.open = true) }, "查看完整号码"),
      idn.open
        ? h("form", { class: "ss-reveal", onSubmit: reveal, "aria-label": "查看完整身份证号" }, [
            field("查看目的", idn, "purpose", { maxlength: 500 }),
            alert(idn.error),
            h(V.Button, { size: "small", type: "primary", nativeType: "submit", loading: idn.busy }, () => "查看"),
            small("取消", () => (idn.open = false)),
          ])
        : null,
    ];
    return () => {
      const d = x.ready ? x : null;
      const sub = s.data;
      const active = sub && sub.status === "in_correction";
      return screen(sub ? `对象 · ${sub.name}` : "对象详情", [
        loading(s),
        sub
          ? section("基本信息", [
              dl([
                ["姓名", sub.name],
                ["性别", word("gender", sub.gender)],
                ["身份证号", idNumber(sub)],
                ["手机号", sub.phone],
                ["矫正类别", word("correction_type", sub.correction_type)],
                ["矫正期限", `${sub.start_date} 至 ${sub.end_date}`],
                ["司法所", officeName(x.orgs, sub.office_id)],
                ["网格", gridName(sub.grid_id)],
                ["监管等级", word("supervision_level", sub.supervision_level)],
                ["风险等级", word("risk_level", sub.risk_level)],
                ["状态", word("status", sub.status) + (sub.released_at ? `(${fmtTime(sub.released_at)})` : "")],
              ]),
            ])
          : null,
        sub
          ? h("nav", { class: "ss-actions", "aria-label": "对象操作" }, [
              h("a", { href: `#/subjects/locations?id=${id}` }, "位置记录"),
              active ? h("a", { href: `#/subjects/faces?id=${id}` }, "人脸底库") : null,
              active ? h("a", { href: `#/subjects/level?id=${id}` }, "调整监管等级和风险等级") : null,
              active ? h("a", { href: `#/subjects/transfer?id=${id}` }, "执行地变更迁移") : null,
              active ? h("a", { href: `#/decisions/adjust?subject=${id}` }, "人工调整积分") : null,
              active ? h("a", { href: `#/decisions/employment?subject=${id}` }, "就业就学核实") : null,
              h("a", { href: `#/subjects/release?id=${id}` }, active ? "解除矫正" : "解矫导出记录"),
            ])
          : null,
        sub && active
          ? h("div", { class: "ss-reissue" }, [
              h(V.Button, { block: true, plain: true, type: "primary", nativeType: "button", loading: reissue.m.busy, onClick: () => reissue.run(sub.name) }, () => "重新生成激活码"),
              alert(reissue.m.error),
              codeCard(reissue.m.code, () => (reissue.m.code = null)),
            ])
          : null,
        d ? scoreSection(d.score) : null,
        d ? h(d.chart) : null,
        d ? checkinCalendar(d.checkins, d.events) : null,
        d ? educationMonths(d.sessions) : null,
        d ? serviceHours(d.reports) : null,
        d
          ? section("申请记录", [
              d.requests.length
                ? h(
                    "ul",
                    { class: "ss-plain" },
                    d.requests.map((r) =>
                      h("li", `${label("request_type", r.type)}:${r.destination},${r.start_date} 至 ${r.end_date},${label("request_status", r.status)}`),
                    ),
                  )
                : h("p", "没有申请"),
            ])
          : null,
        section("积分记录", [
          alert(ev.error),
          h(
            "ul",
            { class: "ss-plain" },
            ev.items.map((e) =>
              h("li", [
                h("strong", `${e.points > 0 ? "+" : ""}${e.points}`),
                ` ${e.rule_name} · ${fmtTime(e.occurred_at)}${e.status !== "active" ? `(${e.status === "revoked" ? "已撤销" : "已到期"})` : ""}`,
              ]),
            ),
          ),
          ev.items.length ? null : h("p", "暂无积分记录"),
          loadMore(ev.more, () => loadEvents(ev.page + 1)),
        ]),
        sub && sub.changes && sub.changes.length
          ? section("变更记录", [
              h(
                "ul",
                { class: "ss-plain" },
                sub.changes.map((c) =>
                  h("li", `${fmtTime(c.changed_at)} ${CHANGE_NAMES[c.field] || c.field}:${changeValue(c.field, c.old_value, x.orgs)} → ${changeValue(c.field, c.new_value, x.orgs)}${c.reason ? `(${c.reason})` : ""}`),
                ),
              ),
            ])
          : null,
      ]);
    };
  },
};

const CHANGE_NAMES = { supervision_level: "监管等级", risk_level: "风险等级", office_id: "司法所", grid_id: "网格", officer_id: "负责人", phone: "手机号", end_date: "矫正结束日期" };
function changeValue(f, v, o) {
  if (v === null || v === undefined || v === "") return "—";
  if (f === "supervision_level" || f === "risk_level") return word(f, v);
  if (f === "office_id") return officeName(o, Number(v));
  if (f === "grid_id") return gridName(v);
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// 入矫登记: enrolment, then the activation code shown once

export const SubjectEnrol = {
  setup() {
    const m = reactive({
      name: "",
      gender: "male",
      id_number: "",
      phone: "",
      correction_type: "probation",
      start_date: "",
      end_date: "",
      supervision_level: "normal",
      risk_level: "medium",
      office_id: "",
      grid_id: "",
      username: "",
    });
    const s = reactive({ error: "", busy: false, done: null, orgs: null, clientId: api.newId() });
    orgs()
      .then((o) => {
        s.orgs = o;
        const first = [...o.offices.keys()][0];
        if (first && !m.office_id) m.office_id = String(first);
        const g = gridOptions(o, m.office_id)[0];
        if (g && !m.grid_id) m.grid_id = g[0];
      })
      .catch((err) => (s.error = errText(err)));
    watch(
      () => m.office_id,
      () => {
        const g = gridOptions(s.orgs, m.office_id)[0];
        m.grid_id = g ? g[0] : "";
      },
    );
    const submit = async (e) => {
      e.preventDefault();
      s.error = "";
      if (m.start_date && m.end_date && m.end_date < m.start_date) return (s.error = "结束日期不能早于开始日期");
      const body = { ...m, office_id: Number(m.office_id), grid_id: Number(m.grid_id), client_id: s.clientId };
      ["phone", "username"].forEach((k) => {
        if (!body[k].trim()) delete body[k];
        else body[k] = body[k].trim();
      });
      body.name = body.name.trim();
      body.id_number = body.id_number.trim().toUpperCase();
      s.busy = true;
      try {
        s.done = await api.create("/staff/subjects", body);
        orgCache = null;
      } catch (err) {
        s.error = errText(err);
        if (err.status === 409 || err.status === 422) s.clientId = api.newId(); // a corrected body is a new create
      } finally {
        s.busy = false;
      }
    };
    return () => {
      if (s.done) {
        const sub = s.done.subject;
        return screen("入矫登记", [
          h("p", { class: "notice" }, `已为${sub.name}办理入矫登记。`),
          codeCard(s.done),
          h("nav", { class: "ss-actions", "aria-label": "下一步" }, [
            h("a", { href: `#/subjects/faces?id=${sub.id}` }, "采集人脸底库"),
            h("a", { href: `#/subjects/view?id=${sub.id}` }, "查看对象详情"),
          ]),
        ]);
      }
      const o = s.orgs;
      return screen("入矫登记", [
        h("form", { onSubmit: submit, "aria-label": "入矫登记" }, [
          field("姓名", m, "name", { required: true, maxlength: 100 }),
          field("性别", m, "gender", { options: opts("gender") }),
          field("身份证号", m, "id_number", { required: true, maxlength: 18, autocomplete: "off", inputmode: "text" }),
          field("手机号", m, "phone", { type: "tel", maxlength: 20 }),
          field("矫正类别", m, "correction_type", { options: opts("correction_type") }),
          field("矫正开始日期", m, "start_date", { type: "date", required: true }),
          field("矫正结束日期", m, "end_date", { type: "date", required: true }),
          field("监管等级", m, "supervision_level", { options: opts("supervision_level") }),
          field("风险等级", m, "risk_level", { options: opts("risk_level") }),
          field("司法所", m, "office_id", { required: true, options: [["", "请选择"], ...[...((o && o.offices) || new Map())].map(([id, n]) => [String(id), n])] }),
          field("网格", m, "grid_id", { required: true, options: gridOptions(o, m.office_id, "请选择") }),
          field("登录用户名(可不填,自动生成)", m, "username", { maxlength: 64, autocomplete: "off" }),
          alert(s.error),
          submitButton("登记并生成激活码", s.busy),
        ]),
      ]);
    };
  },
};

// ---------------------------------------------------------------------------------------------------------------
// 人脸底库: camera photo → upload (purpose enrolment) → checks → reference with legal basis and notice

async function waitChecked(uploadId) {
  for (let i = 0; i < 80; i++) {
    const u = await api.getUpload(uploadId);
    if (!["pending", "processing"].includes(u.status)) return u;
    await new Promise((r) => setTimeout(r, 1500));
  }
  return api.getUpload(uploadId);
}

function faceThumb(refId, uploadId) {
  return {
    setup() {
      const src = ref("");
      api
        .getUpload(uploadId)
        .then((u) => (src.value = (u.derivatives && u.derivatives.thumbnail && u.derivatives.thumbnail.url) || ""))
        .catch(() => {});
      return () => (src.value ? h("img", { class: "ss-thumb", src: src.value, alt: `人脸底库照片 ${refId}` }) : null);
    },
  };
}

export const SubjectFaces = {
  setup() {
    const id = subjectId();
    const [subj] = loader(() => api.get(`/staff/subjects/${id}`));
    const refs = reactive({ items: [], loaded: false, error: "" });
    const loadRefs = async () => {
      try {
        refs.items = await api.get(`/staff/subjects/${id}/face-references`);
        refs.loaded = true;
      } catch (err) {
        refs.error = errText(err);
      }
    };
    loadRefs();
    const m = reactive({ legal_basis: "statutory_duty", notice_given_at: localNow(), notice: false, replace: false });
    const s = reactive({ progress: null, info: "", error: "", busy: false, pending: null });
    const add = async (file) => {
      s.error = s.info = "";
      if (!m.notice) return (s.error = "请先向对象告知人脸信息处理规则,并勾选“已告知”");
      const given = new Date(m.notice_given_at);
      if (!m.notice_given_at || isNaN(given)) return (s.error = "请填写告知时间");
      if (given > new Date()) return (s.error = "告知时间不能晚于现在");
      s.busy = true;
      try {
        const up = s.pending || (await api.upload(file, "enrolment", (f) => (s.progress = f)));
        s.pending = up;
        s.progress = null;
        s.info = "照片已上传,正在检查…";
        const checked = await waitChecked(up.id);
        if (checked.status === "rejected") {
          s.pending = null;
          throw new Error("照片未通过检查:" + (checked.reasons || []).map((r) => r.message).join(";"));
        }
        await api.create(`/staff/subjects/${id}/face-references`, {
          upload_id: up.id,
          legal_basis: m.legal_basis,
          notice_given_at: given.toISOString(),
          replace: m.replace,
        });
        s.pending = null;
        s.info = "人脸底库已录入";
        toast("人脸底库已录入");
        loadRefs();
      } catch (err) {
        s.progress = null;
        s.info = "";
        s.error = err instanceof api.ApiError ? errText(err) : err.message;
        if (err instanceof api.ApiError && err.status === 422) s.pending = null; // the photo itself was refused
      } finally {
        s.busy = false;
      }
    };
    const remove = async (r) => {
      if (!(await confirm("删除人脸底库", `确定删除 ${fmtTime(r.created_at)} 录入的人脸底库照片吗?其特征数据将被清除。`))) return;
      try {
        refs.items = await api.call("DELETE", `/staff/subjects/${id}/face-references?reference_id=${r.id}`).then((x) => x.data);
        toast("已删除");
      } catch (err) {
        refs.error = errText(err);
      }
    };
    return () =>
      screen(subj.data ? `人脸底库 · ${subj.data.name}` : "人脸底库", [
        loading(subj),
        section("现有底库", [
          alert(refs.error),
          h(
            "ul",
            { class: "list", "aria-label": "人脸底库列表" },
            refs.items.map((r) =>
              h("li", { class: "ss-face", "aria-label": `人脸底库 ${fmtTime(r.created_at)} ${word("face_source", r.source)}` }, [
                h(faceThumb(r.id, r.upload_id)),
                h("div", [
                  h("p", `${fmtTime(r.created_at)} · ${word("face_source", r.source)}`),
                  h("p", { class: "time" }, `法律依据:${r.legal_basis_text || word("legal_basis", r.legal_basis)}`),
                  h("p", { class: "time" }, `告知:${r.notice_version},${fmtTime(r.notice_given_at)}`),
                  small("删除", () => remove(r), { "aria-label": `删除 ${fmtTime(r.created_at)} 的人脸底库` }),
                ]),
              ]),
            ),
          ),
          refs.loaded && !refs.items.length ? h("p", "尚无人脸底库:对象的打卡自拍无法比对。") : null,
        ]),
        section("采集人脸照片", [
          h("p", { class: "notice" }, "照片中只能有对象一人,正脸、光线充足。"),
          h("details", { class: "ss-notice" }, [
            h("summary", "人脸信息处理告知要点(请向对象告知)"),
            h("ul", [
              h("li", "目的:仅用于核验打卡自拍是否为本人。"),
              h("li", "方式:从照片提取人脸特征,加密保存,只在服务器上比对,不对外提供。"),
              h("li", "依据:依法履职(《社区矫正法》第二十六条),或本人单独同意。"),
              h("li", "保存:解除矫正时删除人脸特征和采集照片;删除或更换底库时立即清除。"),
            ]),
          ]),
          field("法律依据", m, "legal_basis", { options: opts("legal_basis") }),
          field("已向对象告知人脸信息处理规则(告知书 face-notice-v1)", m, "notice", { type: "checkbox" }),
          field("告知时间", m, "notice_given_at", { type: "datetime-local", required: true }),
          field("替换现有底库", m, "replace", { type: "checkbox" }),
          faceCamera("拍摄人脸照片", "face", (files) => add(files[0])),
          progress(s.progress),
          notice(s.info),
          alert(s.error),
          s.pending && s.error && !s.busy ? small("重试", () => add(null)) : null,
        ]),
      ]);
  },
};

// the camera input of ui.js, the back camera facing the subject (the officer holds the phone)
function faceCamera(text, key, onFiles) {
  return cameraInput(text, key, onFiles, { capture: "environment" });
}

// ---------------------------------------------------------------------------------------------------------------
// 位置记录: only after a purpose is entered (the read is audited); points drawn against the area as inline SVG

const SVG_W = 320;
const SVG_H = 240;

function geoRings(area) {
  if (!area) return [];
  if (area.type === "Polygon") return [area.coordinates[0]];
  if (area.type === "MultiPolygon") return area.coordinates.map((p) => p[0]);
  if (area.type === "Point" && area.radius_m) {
    const [lon, lat] = area.coordinates;
    const dLat = area.radius_m / 111320;
    const dLon = dLat / Math.cos((lat * Math.PI) / 180);
    return [Array.from({ length: 49 }, (_, i) => [lon + dLon * Math.cos((i / 48) * 2 * Math.PI), lat + dLat * Math.sin((i / 48) * 2 * Math.PI)])];
  }
  return [];
}

function pointsMap(points, areas) {
  const rings = areas.flatMap(geoRings);
  const all = [...rings.flat(), ...points.map((p) => [p.longitude, p.latitude])];
  if (!all.length) return null;
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  all.forEach(([x, y]) => {
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  });
  const cos = Math.cos((((y0 + y1) / 2) * Math.PI) / 180);
  const span = Math.max((x1 - x0) * cos, y1 - y0, 0.005) * 1.15;
  const scale = Math.min(SVG_W, SVG_H) / span;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const px = ([x, y]) => [SVG_W / 2 + (x - cx) * cos * scale, SVG_H / 2 - (y - cy) * scale];
  const desc = `位置记录图:${points.length} 个点${rings.length ? ",蓝色区域为辖区范围" : ""}`;
  return h("svg", { class: "ss-map", viewBox: `0 0 ${SVG_W} ${SVG_H}`, role: "img", "aria-label": desc }, [
    h("title", desc),
    h("rect", { x: 0, y: 0, width: SVG_W, height: SVG_H, fill: "#f2f3f5" }),
    ...rings.map((r) =>
      h("polygon", { points: r.map((p) => px(p).map((v) => v.toFixed(1)).join(",")).join(" "), fill: "rgba(25,137,250,.12)", stroke: "#1989fa", "stroke-width": 1.5 }),
    ),
    ...points.map((p, i) => {
      const [x, y] = px([p.longitude, p.latitude]);
      return h("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 5, fill: i === 0 ? "#ee0a24" : "#ff976a", stroke: "#fff", "stroke-width": 1.5 }, [
        h("title", `${fmtTime(p.at)} ${word("point_source", p.source)} ${p.latitude.toFixed(5)}, ${p.longitude.toFixed(5)}`),
      ]);
    }),
  ]);
}

export const SubjectLocations = {
  setup() {
    const id = subjectId();
    const [subj] = loader(() => api.get(`/staff/subjects/${id}`));
    const m = reactive({ purpose: "", date_from: daysAgo(29), date_to: daysAgo(0) });
    const s = reactive({ error: "", busy: false, points: null, areas: [], purpose: "" });
    const submit = async (e) => {
      e.preventDefault();
      s.error = "";
      const purpose = m.purpose.trim();
      if (!purpose) return (s.error = "请先填写查询目的:位置记录属于敏感信息,每次查看都会记录在审计日志中");
      s.busy = true;
      try {
        const points = [];
        for (let p = 1; p <= 20; p++) {
          const r = await api.page(`/staff/subjects/${id}/locations`, { purpose, date_from: m.date_from, date_to: m.date_to, page: p, page_size: 200 });
          points.push(...r.items);
          if (!r.more) break;
        }
        s.areas = await orgs()
          .then((o) => o.areas)
          .catch(() => []);
        s.points = points;
        s.purpose = purpose;
      } catch (err) {
        s.error = errText(err);
      } finally {
        s.busy = false;
      }
    };
    return () =>
      screen(subj.data ? `位置记录 · ${subj.data.name}` : "位置记录", [
        loading(subj),
        h("form", { class: "card", onSubmit: submit, "aria-label": "查看位置记录" }, [
          h("p", { class: "notice" }, "位置记录(打卡和照片的定位)属于敏感个人信息,须填写查询目的;每次查看都记入审计日志。"),
          field("查询目的", m, "purpose", { type: "textarea", maxlength: 500, placeholder: "例如:核实 12 月 1 日越界预警" }),
          field("开始日期", m, "date_from", { type: "date" }),
          field("结束日期", m, "date_to", { type: "date" }),
          alert(s.error),
          submitButton("查看位置记录", s.busy),
        ]),
        s.points
          ? section("位置记录", [
              h("p", { role: "status" }, `查询目的:${s.purpose};共 ${s.points.length} 个位置点`),
              s.areas.length ? null : h("p", { class: "notice" }, "未能读取辖区范围,图中只画位置点。"),
              pointsMap(s.points, s.areas),
              h(
                "ol",
                { class: "ss-plain", "aria-label": "位置点列表" },
                s.points.map((p) =>
                  h(
                    "li",
                    `${fmtTime(p.at)} ${word("point_source", p.source)}:${p.latitude.toFixed(5)}, ${p.longitude.toFixed(5)}${p.accuracy_m != null ? `(精度 ±${Math.round(p.accuracy_m)} 米)` : ""}`,
                  ),
                ),
              ),
            ])
          : null,
      ]);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// 监管等级 and 风险等级 (PATCH, each change recorded with its reason)

export const SubjectLevel = {
  setup() {
    const id = subjectId();
    const m = reactive({ supervision_level: "", risk_level: "", reason: "" });
    const s = reactive({ error: "", busy: false, subject: null });
    const [subj] = loader(async () => {
      const x = await api.get(`/staff/subjects/${id}`);
      m.supervision_level = x.supervision_level;
      m.risk_level = x.risk_level;
      s.subject = x;
      return x;
    });
    const submit = async (e) => {
      e.preventDefault();
      s.error = "";
      const body = {};
      if (m.supervision_level !== s.subject.supervision_level) body.supervision_level = m.supervision_level;
      if (m.risk_level !== s.subject.risk_level) body.risk_level = m.risk_level;
      if (!Object.keys(body).length) return (s.error = "等级没有变化");
      if (!m.reason.trim()) return (s.error = "请填写调整原因");
      body.reason = m.reason.trim();
      s.busy = true;
      try {
        await api.call("PATCH", `/staff/subjects/${id}`, { body });
        toast("已调整");
        go(`/subjects/view?id=${id}`);
      } catch (err) {
        s.error = errText(err);
      } finally {
        s.busy = false;
      }
    };
    return () =>
      screen(subj.data ? `调整等级 · ${subj.data.name}` : "调整等级", [
        loading(subj),
        subj.data
          ? h("form", { class: "card", onSubmit: submit, "aria-label": "调整等级" }, [
              h("p", `现为:${word("supervision_level", subj.data.supervision_level)}、${word("risk_level", subj.data.risk_level)}`),
              field("监管等级", m, "supervision_level", { options: opts("supervision_level") }),
              field("风险等级", m, "risk_level", { options: opts("risk_level") }),
              field("调整原因", m, "reason", { type: "textarea", maxlength: 1000, required: true }),
              h("p", { class: "notice" }, "风险等级的变化会重新计算积分中的风险维度。"),
              alert(s.error),
              submitButton("保存", s.busy),
            ])
          : null,
      ]);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// 执行地变更迁移: after an approved residence change, to an office and grid of my jurisdiction

export const SubjectTransfer = {
  setup() {
    const id = subjectId();
    const m = reactive({ request_id: "", office_id: "", grid_id: "", officer_id: "" });
    const s = reactive({ error: "", busy: false, done: null });
    watch(
      () => m.office_id,
      () => (m.grid_id = ""),
    );
    const o = ref(null);
    orgs()
      .then((x) => (o.value = markRaw(x)))
      .catch(() => {});
    const [d] = loader(async () => {
      const [subject, reqs] = await Promise.all([
        api.get(`/staff/subjects/${id}`),
        api.page("/staff/requests", { subject_id: id, type: "residence_change", status: "approved", page_size: 50 }),
      ]);
      if (reqs.items.length) m.request_id = String(reqs.items[0].id);
      return { subject, requests: reqs.items };
    });
    const submit = async (e) => {
      e.preventDefault();
      s.error = "";
      if (!m.request_id || !m.office_id || !m.grid_id) return (s.error = "请选择申请、迁入司法所和网格");
      const name = officeName(o.value, m.office_id);
      if (!(await confirm("执行地变更迁移", `确定将${d.data.subject.name}迁至${name} ${gridName(m.grid_id)}吗?`))) return;
      const body = { request_id: Number(m.request_id), office_id: Number(m.office_id), grid_id: Number(m.grid_id) };
      if (String(m.officer_id).trim()) body.officer_id = Number(m.officer_id);
      s.busy = true;
      try {
        s.done = await api.post(`/staff/subjects/${id}/transfer`, body);
        toast("已迁移");
      } catch (err) {
        s.error = errText(err);
      } finally {
        s.busy = false;
      }
    };
    return () => {
      const x = d.data;
      return screen(x ? `迁移 · ${x.subject.name}` : "执行地变更迁移", [
        loading(d),
        s.done
          ? h("p", { class: "notice", role: "status" }, `已迁至${officeName(o.value, s.done.office_id)} ${gridName(s.done.grid_id)}。`)
          : null,
        x && !x.requests.length && !s.done ? h("p", { class: "card" }, "该对象没有已批准的执行地变更申请,不能迁移。") : null,
        x && x.requests.length && !s.done
          ? h("form", { class: "card", onSubmit: submit, "aria-label": "执行地变更迁移" }, [
              field("已批准的执行地变更申请", m, "request_id", {
                options: x.requests.map((r) => [String(r.id), `${r.destination}(${r.start_date} 起)`]),
              }),
              field("迁入司法所", m, "office_id", {
                required: true,
                options: [["", "请选择"], ...[...((o.value && o.value.offices) || new Map())].map(([oid, n]) => [String(oid), n])],
              }),
              field("迁入网格", m, "grid_id", { required: true, options: gridOptions(o.value, m.office_id, "请选择") }),
              field("负责人用户编号(可不填)", m, "officer_id", { type: "number", min: 1 }),
              h("p", { class: "notice" }, "只能迁往本区县内、本人可管辖的司法所;迁往其他区县的,由接收地入矫登记、本地解除矫正。"),
              alert(s.error),
              submitButton("迁移", s.busy),
            ])
          : alert(s.error),
      ]);
    };
  },
};

// ---------------------------------------------------------------------------------------------------------------
// 解除矫正 (confirm dialog) and the export record

const recordUrls = new WeakMap(); // one object URL per record shown, not one per render
function recordUrl(rec) {
  if (!recordUrls.has(rec)) recordUrls.set(rec, URL.createObjectURL(new Blob([JSON.stringify(rec, null, 2)], { type: "application/json" })));
  return recordUrls.get(rec);
}

function exportRecord(r) {
  if (!r) return null;
  const rec = r.record || {};
  const fs = rec.final_score || {};
  return section("解矫导出记录", [
    dl([
      ["解矫时间", fmtTime(r.released_at)],
      ["最终积分", r.total],
      ["信用等级", fs.grade_name || r.grade],
      ["记录格式", rec.format],
      ["规则版本", rec.rule_version],
      ["备注", rec.note],
    ]),
    fs.dimensions ? h("p", `各维度:${Object.entries(fs.dimensions).map(([k, v]) => `${k} ${v}`).join(",")}`) : null,
    h("a", { href: recordUrl(rec), download: `export-subject-${r.subject_id}.json`, class: "ss-download" }, "下载导出记录(JSON)"),
    h("details", [h("summary", "查看记录原文"), h("pre", { class: "ss-pre" }, JSON.stringify(rec, null, 2))]),
  ]);
}

async function sha256hex(blob) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function saveBlob(blob, filename) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

// the bureau: the signed export file for the provincial platform, and its handover recorded
function useHandover(id) {
  const m = reactive({ reference: "", note: "" });
  const s = reactive({ error: "", busy: false, file: null, done: null });
  const download = async () => {
    s.error = "";
    try {
      const { blob, filename } = await api.download(`/staff/subjects/${id}/export/file`, {}, "application/json");
      s.file = { filename, sha256: await sha256hex(blob) };
      saveBlob(blob, filename);
    } catch (err) {
      s.error = errText(err);
    }
  };
  const submit = async (e) => {
    e.preventDefault();
    s.error = "";
    if (!m.reference.trim()) return (s.error = "请填写省平台回执编号");
    s.busy = true;
    try {
      const body = { reference: m.reference.trim(), note: m.note.trim() || null };
      if (s.file) body.file_sha256 = s.file.sha256;
      s.done = await api.post(`/staff/subjects/${id}/export/handover`, body);
      toast("已记录交接");
    } catch (err) {
      s.error = errText(err);
    } finally {
      s.busy = false;
    }
  };
  const view = () =>
    section("交接省平台", [
      h("p", { class: "notice" }, "导出文件含加密的完整身份证号和签名,下载后报送省社区矫正平台,再记录平台回执编号。"),
      h(V.Button, { block: true, plain: true, type: "primary", nativeType: "button", onClick: download }, () => "下载导出文件"),
      s.file ? h("p", { class: "time" }, `已下载 ${s.file.filename}(SHA-256 ${s.file.sha256.slice(0, 16)}…)`) : null,
      s.done
        ? h("p", { role: "status" }, `已交接:回执编号 ${s.done.handover_reference},${fmtTime(s.done.handed_over_at)}`)
        : h("form", { onSubmit: submit, "aria-label": "记录交接" }, [
            field("省平台回执编号", m, "reference", { maxlength: 100, required: true }),
            field("交接备注", m, "note", { type: "textarea", maxlength: 1000 }),
            submitButton("记录交接", s.busy),
          ]),
      alert(s.error),
    ]);
  return view;
}

export const SubjectRelease = {
  setup() {
    const id = subjectId();
    const m = reactive({ note: "" });
    const s = reactive({ error: "", busy: false, record: null });
    const handover = useHandover(id);
    const [d] = loader(async () => {
      const subject = await api.get(`/staff/subjects/${id}`);
      if (subject.status === "released") s.record = await api.get(`/staff/subjects/${id}/export`);
      return subject;
    });
    const submit = async (e) => {
      e.preventDefault();
      s.error = "";
      const ok = await confirm(
        "解除矫正",
        `确定为${d.data.name}办理解除矫正吗?积分将冻结,人脸信息将删除,对象账号停用,未办结的申请、预警和建议一并关闭。此操作不能撤销。`,
      );
      if (!ok) return;
      s.busy = true;
      try {
        s.record = await api.post(`/staff/subjects/${id}/release`, { note: m.note.trim() || null });
        toast("已解除矫正");
      } catch (err) {
        s.error = errText(err);
      } finally {
        s.busy = false;
      }
    };
    return () =>
      screen(d.data ? `解除矫正 · ${d.data.name}` : "解除矫正", [
        loading(d),
        d.data && !s.record && d.data.status === "in_correction"
          ? h("form", { class: "card", onSubmit: submit, "aria-label": "解除矫正" }, [
              h("p", `矫正期限:${d.data.start_date} 至 ${d.data.end_date}`),
              field("备注", m, "note", { type: "textarea", maxlength: 1000 }),
              alert(s.error),
              submitButton("解除矫正", s.busy),
            ])
          : alert(s.error),
        s.record ? h("p", { class: "notice", role: "status" }, `${d.data ? d.data.name : ""}已解除矫正`) : null,
        exportRecord(s.record),
        s.record && state.user && state.user.role === "bureau" ? handover() : null,
      ]);
  },
};

export const routes = {
  "/subjects": SubjectList,
  "/subjects/view": SubjectView,
  "/subjects/enrol": SubjectEnrol,
  "/subjects/faces": SubjectFaces,
  "/subjects/locations": SubjectLocations,
  "/subjects/level": SubjectLevel,
  "/subjects/transfer": SubjectTransfer,
  "/subjects/release": SubjectRelease,
};
