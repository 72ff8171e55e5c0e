// 矫务通 work screens: 待办 (inbox and decisions), 预警 (warnings), 建议 (suggestions), decisions on scores.
// Everything through the public API (web/js/api.js); who may do what follows docs/roles.md#who-decides-what
// (warnings, suggestions, verifications and reviews: officers; the bureau reads them, decides two-stage requests
// and approves manual adjustments). Request rules shown beside a decision: docs/requests.md#dates-and-limits.
import * as api from "../api.js";
import { staffScreen } from "./staff_dash.js";
import { alert, confirm, field, fmtTime, h, label, loader, loading, loadMore, notice, reactive, screen, state, today, V } from "../ui.js";

// ---------- words ----------
const REQUEST_KIND = { leave: "外出申请", visitor: "会客申请", residence_change: "执行地变更申请", restricted_place: "进入特定场所申请" };
const INBOX_KIND = {
  request: "申请审批",
  service_verification: "公益活动核实",
  education_verification: "线下学习确认",
  appeal: "积分申诉",
  merit_application: "加分申请",
  adjustment: "积分调整复核",
  suspect_evidence: "照片存疑审核",
  negative_field_report: "网格员负面报告",
  warning: "预警",
  suggestion: "矫正建议",
};
const WARNING_KIND = {
  CHECKIN_MISSED: "未按时报到",
  GEOFENCE: "超出活动范围",
  LEAVE_OVERDUE: "逾期未销假",
  SCORE_RED: "降至红码",
  KEYWORD_HIGH: "网格员报告高危关键词",
  EVIDENCE_SUSPECT: "照片证据存疑",
  FACE_REFERENCE_MISSING: "未采集人脸底库",
};
const WARNING_STATUS = { open: "未处理", acknowledged: "已查看", handled: "已处理" };
const WARNING_OUTCOME = { confirmed: "确认属实", dismissed: "排除(误报)", resolved: "已处置", cleared: "照片无问题", enrolled: "已采集底库" };
const SEVERITY = { high: "严重", medium: "一般", low: "轻微" };
const SUG_CATEGORY = { supervision: "监管措施", education: "教育帮扶", employment_help: "就业帮扶", counselling: "心理疏导", incentive: "正向激励" };
const SUG_PRIORITY = { high: "高", medium: "中", low: "低" };
const SUG_STATUS = { open: "待处理", accepted: "已采纳", dismissed: "未采纳", done: "已完成" };
const DISMISS_REASON = {
  not_applicable: "不适用",
  already_addressed: "已采取措施",
  insufficient_evidence: "依据不足",
  duplicate: "重复建议",
  other: "其他(须写明)",
};
const SUG_OUTCOME = { effective: "有效", partially_effective: "部分有效", not_effective: "无效", referred: "已转介" };
const DIMENSION = { risk: "风险", employment: "就业", behaviour: "行为表现", compliance: "监管遵守", public_welfare: "公益", education: "教育" };
const DECISION_STATUS = { pending: "待处理", approved: "已批准", rejected: "已驳回", upheld: "申诉成立", dismissed: "申诉驳回" };
const UPLOAD_STATUS = { pending: "待上传", processing: "核验中", accepted: "通过", suspect: "存疑", rejected: "不合格", expired: "已过期" };
const REVIEW_STATUS = { open: "待审核", confirmed: "已确认造假", cleared: "已排除疑点" };
const RECORD_TYPE = { checkin: "报到打卡", field_report: "网格员报告", service_report: "公益活动", education_session: "学习", merit: "加分申请", appeal: "申诉" };
// the merit types of the default rule set (staff cannot read GET /me/merit-types); another code shows as it is
const MERIT_NAME = {
  MERIT_BRAVERY: "见义勇为",
  MERIT_VOLUNTEER_AWARD: "志愿服务表彰",
  MERIT_COMMENDATION: "受到表彰奖励",
  MERIT_SKILL_CERTIFICATE: "取得职业技能证书",
  MERIT_DONATION: "公益捐赠",
};
const TWO_STAGE = ["leave_long", "residence_change", "restricted_place"];
const LEAVE_MAX_DAYS = 30; // docs/requests.md#dates-and-limits (leave_max_days)
const LEAVE_YEAR_MAX_DAYS = 60; // docs/requests.md#yearly-leave-limit (leave_year_max_days)

const word = (table, v) => (v && table[v]) || v || "";
const isOfficer = () => state.user && state.user.role === "officer";
const isBureau = () => state.user && state.user.role === "bureau";

function kindName(item) {
  if (item.kind === "request") return REQUEST_KIND[item.subtype] || "申请";
  if (item.kind === "warning") return `预警:${word(WARNING_KIND, item.subtype)}`;
  if (item.kind === "education_verification") return item.subtype === "centralised" ? "集中教育确认" : "线下学习确认";
  return word(INBOX_KIND, item.kind);
}

function dueText(due, overdue) {
  if (!due) return "无期限";
  return `${overdue ? "已超期 " : ""}截止 ${fmtTime(due)}`;
}

function overdueMark(overdue) {
  return overdue ? h("span", { class: "sw-overdue" }, "已超期") : null;
}

function subjectLink(id, name) {
  return h("a", { href: `#/subjects/view?id=${id}`, class: "sw-subject" }, name ? `${name}的档案` : "对象档案");
}

// A record that the API lists but does not show by id: read the list page by page until it appears.
async function findIn(path, id, params = {}) {
  for (let page = 1; page <= 50; page++) {
    const r = await api.page(path, { ...params, page, page_size: 100 });
    const hit = r.items.find((x) => Number(x.id) === Number(id));
    if (hit) return hit;
    if (!r.more) break;
  }
  const err = new Error("没有找到这条记录,可能已处理或不在您的辖区");
  err.notFound = true;
  throw err;
}

// The inbox item of a kind (its title and due time are all the API shows of some records)
async function inboxItem(kind, id, subject) {
  for (let page = 1; page <= 20; page++) {
    const r = await api.page("/staff/inbox", { kind, subject_id: subject, page, page_size: 100 });
    const hit = r.items.find((x) => Number(x.item_id) === Number(id));
    if (hit) return hit;
    if (!r.more) break;
  }
  return null;
}

// An action with a note: the note box, the buttons; each button asks in a real dialog before it acts.
// actions: [{text, value, type, needNote, confirmText}] ; act(value, note) does the call and returns a message.
function decisionPanel(m, actions, act, { noteLabel = "处理意见", notePlaceholder = "" } = {}) {
  const run = async (a) => {
    m.error = m.info = "";
    const note = (m.note || "").trim();
    if (a.needNote && !note) {
      m.error = `${a.text}须填写${noteLabel}`;
      return;
    }
    const ok = await confirm(a.text, `${a.confirmText || `确定${a.text}吗?`}${note ? `\n${noteLabel}:${note}` : ""}`);
    if (!ok) return;
    m.busy = true;
    try {
      m.info = await act(a.value, note || null);
    } catch (err) {
      m.error = err.message;
    } finally {
      m.busy = false;
    }
  };
  return h("section", { class: "card sw-decide", "aria-label": "办理" }, [
    field(noteLabel, m, "note", { type: "textarea", maxlength: 1000, placeholder: notePlaceholder }),
    h(
      "div",
      { class: "sw-actions" },
      actions.map((a) =>
        h(V.Button, { type: a.type || "primary", nativeType: "button", disabled: m.busy, onClick: () => run(a) }, () => a.text),
      ),
    ),
  ]);
}

function facts(rows) {
  return h(
    "dl",
    { class: "sw-facts" },
    rows.filter((r) => r && r[1] !== undefined && r[1] !== null && r[1] !== "").flatMap(([k, v]) => [h("dt", k), h("dd", String(v))]),
  );
}

function readOnlyNote(text) {
  return h("p", { class: "notice sw-readonly" }, text);
}

// ---------- photos ----------
// A photo's display derivative (no metadata), by upload id
const Photo = {
  props: { id: { type: [Number, String], required: true }, caption: { type: String, default: "照片" } },
  setup(props) {
    // a photo still under its checks has no derivative yet: ask again a few times
    let tries = 0;
    let timer = null;
    const [s, reload] = loader(async () => {
      const up = await api.getUpload(props.id);
      if (["pending", "processing"].includes(up.status) && ++tries < 20) timer = setTimeout(reload, 3000);
      return up;
    });
    Vue.onBeforeUnmount(() => clearTimeout(timer));
    return () => {
      const up = s.data;
      if (!up) return loading(s);
      const link = up.derivatives && (up.derivatives.display || up.derivatives.thumbnail);
      return h("figure", { class: "sw-photo" }, [
        link ? h("img", { src: link.url, alt: `${props.caption}(显示图,已去除元数据)`, loading: "lazy" }) : h("p", "暂无可显示的图片"),
        h("figcaption", `${props.caption}:${word(UPLOAD_STATUS, up.status)}`),
      ]);
    };
  },
};

function photos(ids, caption = "照片") {
  if (!ids || !ids.length) return null;
  return h("div", { class: "sw-photos" }, ids.map((id, i) => h(Photo, { id, caption: ids.length > 1 ? `${caption} ${i + 1}` : caption, key: id })));
}

// ---------- 待办 ----------
function inboxPath(item) {
  const q = `id=${item.item_id}&subject=${item.subject_id}`;
  switch (item.kind) {
    case "request":
      return `/inbox/request?${q}`;
    case "service_verification":
      return `/decisions/service?${q}`;
    case "education_verification":
      return `/decisions/education?${q}`;
    case "appeal":
      return `/decisions/appeal?${q}`;
    case "merit_application":
      return `/decisions/merit?${q}`;
    case "adjustment":
      return `/decisions/adjustment?${q}`;
    case "suspect_evidence":
      return `/warnings/evidence?${q}`;
    case "negative_field_report":
      return `/warnings/field-report?${q}`;
    case "warning":
      return `/warnings/view?id=${item.item_id}`;
    case "suggestion":
      return `/suggestions/view?id=${item.item_id}`;
    default:
      return "/inbox";
  }
}

function inboxEntry(item) {
  const kind = kindName(item);
  const what = item.kind === "request" ? `${kind} ${item.title}` : `${kind}:${item.title}`;
  const name = `${item.subject_name} ${what}${item.overdue ? " 已超期" : ""},${dueText(item.due_at, false)}`;
  return h("li", { class: "card sw-item" + (item.overdue ? " sw-late" : ""), key: `${item.kind}-${item.item_id}` }, [
    h("a", { href: "#" + inboxPath(item), class: "sw-open", "aria-label": name }, [
      h("p", [overdueMark(item.overdue), h("strong", item.subject_name), ` ${kind}`]),
      h("p", { class: "sw-title" }, item.title),
      h(
        "p",
        { class: "time" },
        `${dueText(item.due_at, false)} · ${item.office_name}${item.decider_role === "bureau" ? " · 县局决定" : isBureau() ? " · 由司法所办理" : ""}`,
      ),
    ]),
  ]);
}

// A list read 20 at a time with the filters in `filters`; load(1) reads it again (a later read wins over an
// earlier one still under way), load(page + 1) appends. The caller makes the first load.
function useList(path, filters) {
  const list = reactive({ items: [], more: false, page: 1, error: "", loaded: false });
  let seq = 0;
  const load = async (p = 1) => {
    const mine = ++seq;
    try {
      const r = await api.page(typeof path === "function" ? path() : path, { ...filters, page: p, page_size: 20 });
      if (mine !== seq) return;
      list.items = p === 1 ? r.items : list.items.concat(r.items);
      list.more = r.more;
      list.page = p;
      list.error = "";
      list.loaded = true;
    } catch (err) {
      if (mine === seq) list.error = err.message;
    }
  };
  return [list, load];
}

const Inbox = {
  setup() {
    const f = reactive({ kind: state.route.query.kind || "", overdue: state.route.query.overdue === "true" });
    const params = reactive({});
    const [list, load] = useList("/staff/inbox", params);
    const apply = () => {
      params.kind = f.kind || undefined;
      params.overdue = f.overdue ? "true" : undefined;
      load(1);
    };
    apply();
    return () =>
      staffScreen("待办", [
        h("p", { class: "sw-hint" }, isBureau() ? "县局待决定的事项,以及辖区内所有超期事项(超期的排在最前)。" : "需要我办理的事项,超期的排在最前。"),
        h("form", { class: "sw-filters", "aria-label": "筛选待办", onChange: apply, onSubmit: (e) => e.preventDefault() }, [
          field("类型", f, "kind", { options: [["", "全部"], ...Object.entries(INBOX_KIND)] }),
          field("只看超期", f, "overdue", { type: "checkbox" }),
        ]),
        h("p", { class: "sw-hint" }, [h("a", { href: "#/decisions" }, "积分决定"), ":积分申诉、加分申请、积分调整的待处理清单"]),
        alert(list.error),
        h("ul", { class: "list", "aria-label": "待办列表" }, list.items.map(inboxEntry)),
        list.loaded && !list.items.length ? h("p", "暂无待办") : null,
        loadMore(list.more, () => load(list.page + 1)),
      ]);
  },
};

// ---------- a request and its decision ----------
function overlaps(a, b) {
  return a.start_date <= b.end_date && b.start_date <= a.end_date;
}

function daysInYear(r, year) {
  const from = r.start_date > `${year}-01-01` ? r.start_date : `${year}-01-01`;
  let end = r.status === "returned" && r.returned_at ? r.returned_at.slice(0, 10) : r.end_date;
  if (end > `${year}-12-31`) end = `${year}-12-31`;
  if (end < from) return 0;
  return Math.round((new Date(end) - new Date(from)) / 86400000) + 1;
}

// The rules the request meets or breaks, from what the API gives (the request, the subject's other leaves)
function requestRules(r, others) {
  const rows = [];
  const year = r.start_date.slice(0, 4);
  const rule = (ok, text) => rows.push({ ok, text });
  if (["pending", "recommended"].includes(r.status))
    rule(r.start_date >= today(), `开始日期 ${r.start_date} ${r.start_date >= today() ? "不早于今天" : "已早于今天"}`);
  if (r.type === "leave") {
    rule(r.days <= LEAVE_MAX_DAYS, `本次外出 ${r.days} 天(每次不超过 ${LEAVE_MAX_DAYS} 天)`);
    const counted = others.filter((o) => o.type === "leave" && o.id !== r.id && o.counts_toward_limit && ["approved", "overdue", "returned"].includes(o.status));
    const used = counted.reduce((n, o) => n + daysInYear(o, year), 0);
    const mine = r.counts_toward_limit ? daysInYear(r, year) : 0;
    if (r.counts_toward_limit)
      rule(used + mine <= LEAVE_YEAR_MAX_DAYS, `${year} 年已批准外出 ${used} 天,加上本次共 ${used + mine} 天(一年不超过 ${LEAVE_YEAR_MAX_DAYS} 天)`);
    else rule(true, "生产经营外出(信用绿码/蓝码),不计入年度天数");
    const clash = others.filter((o) => o.type === "leave" && o.id !== r.id && ["approved", "overdue", "returned"].includes(o.status) && overlaps(o, r));
    rule(!clash.length, clash.length ? `与已批准的外出重叠:${clash.map((o) => `${o.start_date} 至 ${o.end_date}`).join(",")}` : "与已批准的外出不重叠");
  }
  rule(null, TWO_STAGE.includes(r.route) ? "审批流程:司法所提出意见后报县局审批(提交局审)" : "审批流程:由司法所审批");
  return rows;
}

function leaveInForce(others) {
  const t = today();
  return others.filter((o) => o.type === "leave" && (o.status === "overdue" || (o.status === "approved" && o.start_date <= t && t <= o.end_date)));
}

const RequestDetail = {
  setup() {
    const q = state.route.query;
    const m = reactive({ note: "", error: "", info: "", busy: false });
    const [s, reload] = loader(async () => {
      const subjectId = q.subject;
      const all = subjectId
        ? (await api.page("/staff/requests", { subject_id: subjectId, page_size: 200 })).items
        : [await findIn("/staff/requests", q.id, { awaiting_me: "true" })];
      const req = all.find((x) => Number(x.id) === Number(q.id)) || (await findIn("/staff/requests", q.id, { subject_id: subjectId }));
      const [subject, score] = await Promise.all([
        api.get(`/staff/subjects/${req.subject_id}`),
        api.get(`/staff/subjects/${req.subject_id}/score`).catch(() => null),
      ]);
      const others = subjectId ? all : (await api.page("/staff/requests", { subject_id: req.subject_id, page_size: 200 })).items;
      return { req, subject, score, others };
    });
    const act = async (decision, note) => {
      const r = await api.post(`/staff/requests/${s.data.req.id}/decision`, { decision, note });
      s.data.req = r;
      m.note = "";
      return `已办理:${label("request_status", r.status)}`;
    };
    const actions = (r) => {
      const mine = r.decider_role === state.user.role;
      const out = [];
      if (r.status === "pending" && isOfficer() && mine) {
        if (TWO_STAGE.includes(r.route)) out.push({ text: "提交局审", value: "recommend", confirmText: "确定提交县局审批吗?" });
        else out.push({ text: "批准", value: "approve" });
        out.push({ text: "驳回", value: "reject", type: "danger", needNote: true });
      } else if (r.status === "recommended" && isBureau()) {
        out.push({ text: "批准", value: "approve" }, { text: "驳回", value: "reject", type: "danger", needNote: true });
      } else if (r.status === "approved" && r.start_date > today() && (!TWO_STAGE.includes(r.route) || isBureau())) {
        out.push({ text: "撤销批准", value: "revoke", type: "danger", needNote: true });
      }
      return out;
    };
    return () => {
      const d = s.data;
      if (!d) return screen("申请审批", [loading(s)]);
      const r = d.req;
      const sc = d.score;
      const year = today().slice(0, 4);
      const leaves = d.others.filter((o) => o.type === "leave" && o.id !== r.id && ["approved", "overdue", "returned"].includes(o.status) && o.end_date >= `${year}-01-01`);
      const inForce = leaveInForce(d.others);
      const acts = actions(r);
      return screen(`${word(REQUEST_KIND, r.type)}审批`, [
        h("section", { class: "card", "aria-label": "申请内容" }, [
          h("h2", `${d.subject.name}:${word(REQUEST_KIND, r.type)} ${r.destination}`),
          facts([
            ["状态", label("request_status", r.status)],
            ["日期", `${r.start_date} 至 ${r.end_date},共 ${r.days} 天`],
            ["事由", r.reason],
            ["生产经营", r.business ? "是" : "否"],
            ["办理期限", dueText(r.due_at, r.due_at && new Date(r.due_at) < new Date())],
            ["审批意见", r.decision_note],
          ]),
          subjectLink(r.subject_id, d.subject.name),
        ]),
        sc
          ? h("section", { class: "card", "aria-label": `信用积分 ${sc.total} 分,${sc.grade_name}` }, [
              h("h2", "信用积分"),
              h("p", [h("strong", String(sc.total)), " 分 ", h("span", { class: "grade", style: { background: sc.colour } }, sc.grade_name), sc.base_pending ? "(基础分待定)" : ""]),
            ])
          : null,
        h("section", { class: "card", "aria-label": "本年外出" }, [
          h("h2", `${year} 年外出`),
          leaves.length ? h("ul", leaves.map((o) => h("li", `${o.start_date} 至 ${o.end_date} ${o.destination}(${o.days} 天,${label("request_status", o.status)})`))) : h("p", "今年没有已批准的外出"),
          inForce.length
            ? h("p", { class: "warn" }, `正在外出:${inForce.map((o) => `${o.destination} ${o.start_date} 至 ${o.end_date}(${label("request_status", o.status)})`).join(";")}`)
            : h("p", "目前没有正在进行的外出"),
        ]),
        h("section", { class: "card", "aria-label": "规则核对" }, [
          h("h2", "规则核对"),
          h(
            "ul",
            { class: "sw-rules" },
            requestRules(r, d.others).map((x) =>
              x.ok === null ? h("li", x.text) : h("li", { class: x.ok ? "sw-ok" : "sw-bad" }, `${x.ok ? "✓ 符合" : "✗ 不符合"}:${x.text}`),
            ),
          ),
        ]),
        alert(m.error),
        notice(m.info),
        acts.length
          ? decisionPanel(m, acts, act, { noteLabel: "审批意见" })
          : readOnlyNote(
              ["pending", "recommended"].includes(r.status)
                ? `此申请由${r.decider_role === "bureau" ? "县局" : "司法所"}决定,您可以查看。`
                : `此申请${label("request_status", r.status)}。`,
            ),
        h("p", [h(V.Button, { size: "small", nativeType: "button", onClick: reload }, () => "刷新")]),
      ]);
    };
  },
};

// ---------- 预警 ----------
const Warnings = {
  setup() {
    const f = reactive({ kind: state.route.query.kind || "", status: state.route.query.status || "" });
    const params = reactive({});
    const [list, load] = useList("/staff/warnings", params);
    const apply = () => {
      params.kind = f.kind || undefined;
      params.status = f.status || undefined;
      load(1);
    };
    apply();
    const entry = (w) => {
      const name = `${w.subject_name} ${word(WARNING_KIND, w.kind)} ${word(WARNING_STATUS, w.status)}${w.overdue ? " 已超期" : ""}`;
      return h("li", { class: "card sw-item" + (w.overdue ? " sw-late" : ""), key: w.id }, [
        h("a", { href: `#/warnings/view?id=${w.id}`, class: "sw-open", "aria-label": name }, [
          h("p", [overdueMark(w.overdue), h("strong", w.subject_name), ` ${word(WARNING_KIND, w.kind)}`, h("span", { class: `sw-sev sw-sev-${w.severity}` }, word(SEVERITY, w.severity))]),
          h("p", { class: "sw-title" }, w.title),
          h("p", { class: "time" }, `${word(WARNING_STATUS, w.status)}${w.outcome ? `(${word(WARNING_OUTCOME, w.outcome)})` : ""} · ${dueText(w.due_at, false)}`),
        ]),
      ]);
    };
    return () =>
      staffScreen("预警", [
        h("form", { class: "sw-filters", "aria-label": "筛选预警", onChange: apply, onSubmit: (e) => e.preventDefault() }, [
          field("预警类型", f, "kind", { options: [["", "全部"], ...Object.entries(WARNING_KIND)] }),
          field("处理状态", f, "status", { options: [["", "全部"], ...Object.entries(WARNING_STATUS)] }),
        ]),
        alert(list.error),
        h("ul", { class: "list", "aria-label": "预警列表" }, list.items.map(entry)),
        list.loaded && !list.items.length ? h("p", "暂无预警") : null,
        loadMore(list.more, () => load(list.page + 1)),
      ]);
  },
};

function warningDetails(w) {
  const d = w.details || {};
  const rows = [];
  if (d.period_end) rows.push(["报到期截至", d.period_end]);
  if (d.distance_m !== undefined) rows.push(["距允许范围", `约 ${Math.round(d.distance_m)} 米`]);
  if (d.keywords) rows.push(["关键词", [].concat(d.keywords).map((k) => (typeof k === "string" ? k : k.word || JSON.stringify(k))).join("、")]);
  if (d.reasons) rows.push(["存疑原因代码", [].concat(d.reasons).join("、")]);
  return rows;
}

const WarningDetail = {
  setup() {
    const id = state.route.query.id;
    const m = reactive({ note: "", outcome: "resolved", error: "", info: "", busy: false });
    const [s] = loader(() => api.get(`/staff/warnings/${id}`));
    const act = async (outcome, note) => {
      s.data = await api.post(`/staff/warnings/${id}/handle`, { outcome, note });
      return `已处理:${word(WARNING_OUTCOME, s.data.outcome)}`;
    };
    const ack = async () => {
      try {
        s.data = await api.post(`/staff/warnings/${id}/acknowledge`);
      } catch (err) {
        m.error = err.message;
      }
    };
    return () => {
      const w = s.data;
      if (!w) return screen("预警", [loading(s)]);
      const d = w.details || {};
      const upload = d.upload_id || ((w.evidence || []).find((e) => e.kind === "upload") || {}).id;
      const reports = d.field_report_ids || (w.evidence || []).filter((e) => e.kind === "field_report").map((e) => e.id);
      const outcomes = [
        { value: "resolved", text: "已处置", confirmText: "确定标记为已处置吗?" },
        { value: "confirmed", text: w.kind === "GEOFENCE" ? "确认越界" : "确认属实", confirmText: w.kind === "GEOFENCE" ? "确认越界将按规则扣分,确定吗?" : "确定确认属实吗?" },
        { value: "dismissed", text: "排除(误报)", type: "default" },
      ];
      return screen(`预警:${word(WARNING_KIND, w.kind)}`, [
        h("section", { class: "card", "aria-label": "预警内容" }, [
          h("h2", `${w.subject_name}:${w.title}`),
          facts([
            ["类型", word(WARNING_KIND, w.kind)],
            ["级别", word(SEVERITY, w.severity)],
            ["状态", `${word(WARNING_STATUS, w.status)}${w.outcome ? `(${word(WARNING_OUTCOME, w.outcome)})` : ""}`],
            ["发生时间", fmtTime(w.created_at)],
            ["办理期限", dueText(w.due_at, w.overdue)],
            ...warningDetails(w),
            ["处理说明", w.note],
          ]),
          overdueMark(w.overdue),
          subjectLink(w.subject_id, w.subject_name),
        ]),
        w.kind === "EVIDENCE_SUSPECT" && upload
          ? h("p", [h("a", { href: `#/warnings/evidence?id=${upload}&subject=${w.subject_id}`, class: "sw-link" }, "查看存疑照片并审核")])
          : null,
        w.kind === "GEOFENCE" && upload ? photos([upload], "报到照片") : null,
        reports.length
          ? h("ul", { class: "sw-links", "aria-label": "相关报告" }, reports.map((rid) => h("li", [h("a", { href: `#/warnings/field-report?id=${rid}` }, `网格员报告 #${rid}`)])))
          : null,
        alert(m.error),
        notice(m.info),
        w.status !== "handled" && isOfficer()
          ? [
              w.status === "open" ? h("p", [h(V.Button, { size: "small", nativeType: "button", onClick: ack }, () => "标记已查看")]) : null,
              decisionPanel(m, outcomes.map((o) => ({ ...o, needNote: true })), act, { noteLabel: "处理说明" }),
            ]
          : w.status !== "handled"
            ? readOnlyNote("预警由司法所工作人员处理,县局可以查看。")
            : null,
      ]);
    };
  },
};

// Suspect evidence: the derivative, the reasons in plain Chinese, the original only with a purpose; confirm or clear
const Evidence = {
  setup() {
    const id = state.route.query.id;
    const m = reactive({ note: "", purpose: "", error: "", info: "", busy: false, original: null, origError: "" });
    const [s] = loader(() => api.getUpload(id));
    const who = reactive({ subject: null });
    subjectOf(state.route.query.subject).then((x) => (who.subject = x));
    const readOriginal = async () => {
      m.origError = "";
      if (!m.purpose.trim()) {
        m.origError = "查看原图须先填写用途(查看会记入审计日志)";
        return;
      }
      try {
        m.original = await api.get(`/staff/uploads/${id}/original`, { purpose: m.purpose.trim() });
      } catch (err) {
        m.origError = err.message;
      }
    };
    const act = async (decision, note) => {
      s.data = await api.post(`/staff/uploads/${id}/review`, { decision, note });
      return decision === "clear" ? "已排除疑点" : "已确认造假";
    };
    return () => {
      const up = s.data;
      if (!up) return screen("照片审核", [loading(s)]);
      const link = up.derivatives && (up.derivatives.display || up.derivatives.thumbnail);
      const f = up.facts || {};
      const review = up.review;
      return screen("照片审核", [
        subjectHeader(who.subject),
        h("section", { class: "card", "aria-label": "存疑照片" }, [
          h("h2", `${word(RECORD_TYPE, up.record && up.record.type) || "照片"}的照片:${word(UPLOAD_STATUS, up.status)}`),
          link ? h("img", { class: "sw-big", src: link.url, alt: "存疑照片(显示图,已去除元数据)" }) : h("p", "暂无可显示的图片"),
          facts([
            ["拍摄时间", f.captured_at],
            ["相机", [f.make, f.model].filter(Boolean).join(" ")],
            ["处理软件", f.software],
            ["上传时间", fmtTime(up.created_at)],
            ["审核状态", review ? word(REVIEW_STATUS, review.status) : "无需审核"],
            ["审核说明", review && review.note],
          ]),
        ]),
        h("section", { class: "card", "aria-label": "存疑原因" }, [
          h("h2", "存疑原因"),
          (up.reasons || []).length ? h("ul", { class: "sw-reasons" }, up.reasons.map((r) => h("li", r.message))) : h("p", "没有存疑原因"),
        ]),
        h("section", { class: "card", "aria-label": "原图" }, [
          h("h2", "原图"),
          h("p", { class: "sw-hint" }, "原图含拍摄位置等信息,须填写用途后才能查看,查看记录将写入审计日志。"),
          field("查看原图的用途", m, "purpose", { maxlength: 500 }),
          h(V.Button, { size: "small", nativeType: "button", onClick: readOriginal }, () => "查看原图"),
          alert(m.origError),
          m.original
            ? h("div", { class: "sw-original" }, [
                h("img", { class: "sw-big", src: m.original.url, alt: "原图" }),
                h("p", [h("a", { href: m.original.url, target: "_blank", rel: "noopener" }, "打开原图"), `(${fmtTime(m.original.expires_at)} 前有效)`]),
              ])
            : null,
        ]),
        alert(m.error),
        notice(m.info),
        review && review.status === "open" && isOfficer()
          ? decisionPanel(
              m,
              [
                { text: "排除疑点", value: "clear", needNote: true, confirmText: "确定排除疑点吗?照片将视为正常。" },
                { text: "确认造假", value: "confirm", type: "danger", needNote: true, confirmText: "确认造假将按规则扣分,确定吗?" },
              ],
              act,
              { noteLabel: "审核说明" },
            )
          : review && review.status === "open"
            ? readOnlyNote("照片由司法所工作人员审核,县局可以查看。")
            : null,
      ]);
    };
  },
};

// A negative field report: the text, tags, photos; confirm (GRID_NEGATIVE) or dismiss
const FieldReport = {
  setup() {
    const id = state.route.query.id;
    const m = reactive({ note: "", error: "", info: "", busy: false });
    const [s] = loader(() => api.get(`/staff/field-reports/${id}`));
    const act = async (decision, note) => {
      s.data = await api.post(`/staff/field-reports/${id}/review`, { decision, note });
      return decision === "confirm" ? "已确认" : "已不予采纳";
    };
    return () => {
      const r = s.data;
      if (!r) return screen("网格员报告", [loading(s)]);
      const hits = (r.classification && r.classification.hits) || [];
      return screen("网格员报告", [
        h("section", { class: "card", "aria-label": "报告内容" }, [
          h("h2", `${r.subject_name}:${label("field_status", r.status)}`),
          h("p", { class: "sw-text" }, r.text),
          facts([
            ["观察时间", fmtTime(r.observed_at)],
            ["标签", (r.tags || []).join("、")],
            ["严重程度", label("severity", r.severity)],
            ["关键词", hits.map((x) => (typeof x === "string" ? x : x.word || x.keyword || "")).filter(Boolean).join("、")],
            ["建议处置", ((r.classification && r.classification.actions) || []).join("、")],
            ["办理期限", dueText(r.due_at, r.due_at && r.status === "pending_review" && new Date(r.due_at) < new Date())],
            ["审核说明", r.review_note],
          ]),
          subjectLink(r.subject_id, r.subject_name),
        ]),
        photos(r.upload_ids, "现场照片"),
        alert(m.error),
        notice(m.info),
        r.status === "pending_review" && isOfficer()
          ? decisionPanel(
              m,
              [
                { text: "确认", value: "confirm", needNote: true, confirmText: "确认后将按规则记负面反馈,确定吗?" },
                { text: "不予采纳", value: "dismiss", type: "default", needNote: true },
              ],
              act,
              { noteLabel: "审核说明" },
            )
          : null,
      ]);
    };
  },
};

// ---------- 建议 ----------
const Suggestions = {
  setup() {
    const f = reactive({ status: state.route.query.status || "", category: "" });
    const params = reactive({});
    const [list, load] = useList("/staff/suggestions", params);
    const apply = () => {
      params.status = f.status || undefined;
      params.category = f.category || undefined;
      load(1);
    };
    apply();
    const entry = (x) => {
      const name = `${x.subject_name} 建议:${x.title} ${word(SUG_STATUS, x.status)}${x.overdue ? " 已超期" : ""}`;
      return h("li", { class: "card sw-item" + (x.overdue ? " sw-late" : ""), key: x.id }, [
        h("a", { href: `#/suggestions/view?id=${x.id}`, class: "sw-open", "aria-label": name }, [
          h("p", [overdueMark(x.overdue), h("strong", x.subject_name), ` ${word(SUG_CATEGORY, x.category)} · 优先级${word(SUG_PRIORITY, x.priority)}`]),
          h("p", { class: "sw-title" }, x.title),
          h("p", { class: "time" }, `${word(SUG_STATUS, x.status)} · ${x.summary || ""} · ${dueText(x.due_at, false)}`),
        ]),
      ]);
    };
    return () =>
      staffScreen("建议", [
        h("form", { class: "sw-filters", "aria-label": "筛选建议", onChange: apply, onSubmit: (e) => e.preventDefault() }, [
          field("状态", f, "status", { options: [["", "全部"], ...Object.entries(SUG_STATUS)] }),
          field("类别", f, "category", { options: [["", "全部"], ...Object.entries(SUG_CATEGORY)] }),
        ]),
        alert(list.error),
        h("ul", { class: "list", "aria-label": "建议列表" }, list.items.map(entry)),
        list.loaded && !list.items.length ? h("p", "暂无建议") : null,
        loadMore(list.more, () => load(list.page + 1)),
      ]);
  },
};

function evidenceLine(e, events) {
  const at = e.at ? fmtTime(e.at) : "";
  switch (e.kind) {
    case "score_event": {
      const ev = events[e.id];
      return ev ? `${at} ${ev.rule_name}(${ev.points > 0 ? "+" : ""}${ev.points} 分)` : `${at} 积分记录 ${e.rule_code || ""}`;
    }
    case "field_report":
      return h("a", { href: `#/warnings/field-report?id=${e.id}` }, `${at} 网格员报告 #${e.id}${e.category ? `(${e.category})` : ""}`);
    case "score_change":
      return `${at} 积分变动 ${e.delta > 0 ? "+" : ""}${e.delta} 分`;
    case "subject_score":
      return `当前积分 ${e.total} 分(${e.grade})`;
    case "education_month": {
      const rest = Object.entries(e).filter(([k]) => !["kind", "id"].includes(k)).map(([k, v]) => `${k}: ${v}`).join(",");
      return `学习月度:${rest}`;
    }
    default:
      return `${at} ${e.kind} #${e.id}`;
  }
}

const SuggestionDetail = {
  setup() {
    const id = state.route.query.id;
    const m = reactive({ note: "", reason: "not_applicable", outcome: "effective", error: "", info: "", busy: false });
    const [s] = loader(async () => {
      const sug = await api.get(`/staff/suggestions/${id}`);
      const events = {};
      if ((sug.rationale.evidence || []).some((e) => e.kind === "score_event")) {
        const r = await api.page(`/staff/subjects/${sug.subject_id}/score/events`, { page_size: 200 }).catch(() => ({ items: [] }));
        r.items.forEach((ev) => (events[ev.id] = ev));
      }
      return { sug, events };
    });
    const act = async (action, note) => {
      const body = { action, note };
      if (action === "dismiss") body.reason = m.reason;
      if (action === "done") body.outcome = m.outcome;
      s.data.sug = await api.post(`/staff/suggestions/${id}`, body);
      return `已办理:${word(SUG_STATUS, s.data.sug.status)}`;
    };
    return () => {
      const d = s.data;
      if (!d) return screen("建议", [loading(s)]);
      const x = d.sug;
      const ra = x.rationale || {};
      const live = ["open", "accepted"].includes(x.status);
      const acts = [];
      if (x.status === "open") acts.push({ text: "采纳", value: "accept", confirmText: "确定采纳这条建议吗?" });
      if (live) {
        acts.push({ text: "完成", value: "done", confirmText: `确定标记完成吗?效果:${word(SUG_OUTCOME, m.outcome)}` });
        acts.push({ text: "不采纳", value: "dismiss", type: "default", needNote: m.reason === "other", confirmText: `确定不采纳吗?原因:${word(DISMISS_REASON, m.reason)}` });
      }
      return screen("矫正建议", [
        h("section", { class: "card", "aria-label": "建议内容" }, [
          h("h2", `${x.subject_name}:${x.title}`),
          facts([
            ["类别", word(SUG_CATEGORY, x.category)],
            ["优先级", word(SUG_PRIORITY, x.priority)],
            ["状态", word(SUG_STATUS, x.status)],
            ["办理期限", dueText(x.due_at, x.overdue)],
            ["不采纳原因", word(DISMISS_REASON, x.dismiss_reason)],
            ["效果", word(SUG_OUTCOME, x.outcome)],
            ["说明", x.note],
          ]),
          overdueMark(x.overdue),
          subjectLink(x.subject_id, x.subject_name),
        ]),
        h("section", { class: "card", "aria-label": "依据" }, [
          h("h2", "依据"),
          h("p", { class: "sw-summary" }, ra.summary || ""),
          ra.evidence && ra.evidence.length ? h("ul", { class: "sw-evidence" }, ra.evidence.map((e) => h("li", [evidenceLine(e, d.events)]))) : null,
          ra.trigger ? h("p", { class: "time" }, `规则:${ra.trigger.code}(第 ${ra.trigger.version} 版)`) : null,
        ]),
        alert(m.error),
        notice(m.info),
        live && isOfficer()
          ? [
              h("section", { class: "card sw-choices", "aria-label": "办理选项" }, [
                field("不采纳原因", m, "reason", { options: Object.entries(DISMISS_REASON) }),
                field("完成效果", m, "outcome", { options: Object.entries(SUG_OUTCOME) }),
              ]),
              decisionPanel(m, acts, act, { noteLabel: "说明" }),
            ]
          : live
            ? readOnlyNote("建议由司法所工作人员办理,县局可以查看。")
            : null,
      ]);
    };
  },
};

// ---------- decisions on scores ----------
// Appeals and merit applications: the role they are routed to decides; the bureau also once they are overdue
// (docs/warnings-and-suggestions.md#inbox-routing)
function mayDecide(x) {
  if (!state.user) return false;
  return x.decider_role === state.user.role || (isBureau() && x.due_at && new Date(x.due_at) < new Date());
}

function subjectHeader(subject) {
  return subject ? h("p", [h("strong", subject.name), " ", subjectLink(subject.id, subject.name)]) : null;
}

async function subjectOf(id) {
  return id ? api.get(`/staff/subjects/${id}`).catch(() => null) : null;
}

async function eventOf(subjectId, eventId) {
  for (let page = 1; page <= 10; page++) {
    const r = await api.page(`/staff/subjects/${subjectId}/score/events`, { page, page_size: 200 });
    const hit = r.items.find((e) => Number(e.id) === Number(eventId));
    if (hit || !r.more) return hit || null;
  }
  return null;
}

const Appeal = {
  setup() {
    const q = state.route.query;
    const m = reactive({ note: "", error: "", info: "", busy: false });
    const [s] = loader(async () => {
      const appeal = await findIn("/staff/appeals", q.id);
      const [subject, event] = await Promise.all([subjectOf(appeal.subject_id), eventOf(appeal.subject_id, appeal.event_id)]);
      return { appeal, subject, event };
    });
    const act = async (decision, note) => {
      s.data.appeal = await api.post(`/staff/appeals/${q.id}/decision`, { decision, note });
      return `已办理:${word(DECISION_STATUS, s.data.appeal.status)}`;
    };
    return () => {
      const d = s.data;
      if (!d) return screen("积分申诉", [loading(s)]);
      const a = d.appeal;
      const e = d.event;
      return screen("积分申诉", [
        subjectHeader(d.subject),
        h("section", { class: "card", "aria-label": "申诉内容" }, [
          h("h2", `申诉:${word(DECISION_STATUS, a.status)}`),
          facts([
            ["申诉的记录", e ? `${fmtTime(e.occurred_at)} ${e.rule_name}(${e.points > 0 ? "+" : ""}${e.points} 分)` : `记录 #${a.event_id}`],
            ["申诉理由", a.reason],
            ["提交时间", fmtTime(a.created_at)],
            ["办理期限", dueText(a.due_at, a.status === "pending" && new Date(a.due_at) < new Date())],
            ["处理意见", a.note],
          ]),
        ]),
        photos(a.evidence, "申诉证据"),
        alert(m.error),
        notice(m.info),
        a.status === "pending" && mayDecide(a)
          ? decisionPanel(
              m,
              [
                { text: "申诉成立", value: "uphold", confirmText: "申诉成立将撤销该积分记录,确定吗?" },
                { text: "驳回申诉", value: "dismiss", type: "danger", needNote: true },
              ],
              act,
            )
          : a.status === "pending"
            ? readOnlyNote(`此申诉由${a.decider_role === "bureau" ? "县局" : "司法所"}处理(超期后县局也可处理)。`)
            : null,
      ]);
    };
  },
};

const Merit = {
  setup() {
    const q = state.route.query;
    const m = reactive({ note: "", error: "", info: "", busy: false });
    const [s] = loader(async () => {
      const merit = await findIn("/staff/merit-applications", q.id);
      return { merit, subject: await subjectOf(merit.subject_id) };
    });
    const act = async (decision, note) => {
      s.data.merit = await api.post(`/staff/merit-applications/${q.id}/decision`, { decision, note });
      return `已办理:${word(DECISION_STATUS, s.data.merit.status)}`;
    };
    return () => {
      const d = s.data;
      if (!d) return screen("加分申请", [loading(s)]);
      const x = d.merit;
      return screen("加分申请", [
        subjectHeader(d.subject),
        h("section", { class: "card", "aria-label": "申请内容" }, [
          h("h2", `加分申请:${word(DECISION_STATUS, x.status)}`),
          facts([
            ["加分类型", word(MERIT_NAME, x.merit_type)],
            ["申请分值", `${x.points} 分`],
            ["事项", x.description],
            ["发生日期", x.occurred_on],
            ["决定方", x.decider_role === "bureau" ? "县局" : "司法所"],
            ["办理期限", dueText(x.due_at, x.status === "pending" && new Date(x.due_at) < new Date())],
            ["处理意见", x.note],
          ]),
        ]),
        photos(x.evidence, "证明材料"),
        alert(m.error),
        notice(m.info),
        x.status === "pending" && mayDecide(x)
          ? decisionPanel(m, [{ text: "批准加分", value: "approve" }, { text: "不予加分", value: "reject", type: "danger", needNote: true }], act)
          : x.status === "pending"
            ? readOnlyNote(`此申请由${x.decider_role === "bureau" ? "县局" : "司法所"}决定(超期后县局也可决定)。`)
            : null,
      ]);
    };
  },
};

const Adjustment = {
  setup() {
    const q = state.route.query;
    const m = reactive({ note: "", error: "", info: "", busy: false });
    const [s] = loader(async () => {
      const adj = await findIn("/staff/adjustments", q.id);
      return { adj, subject: await subjectOf(adj.subject_id) };
    });
    const act = async (decision, note) => {
      s.data.adj = await api.post(`/staff/adjustments/${q.id}/decision`, { decision, note });
      return `已办理:${word(DECISION_STATUS, s.data.adj.status)}`;
    };
    return () => {
      const d = s.data;
      if (!d) return screen("积分调整复核", [loading(s)]);
      const x = d.adj;
      const mine = state.user && Number(state.user.id) === Number(x.proposed_by);
      return screen("积分调整复核", [
        subjectHeader(d.subject),
        h("section", { class: "card", "aria-label": "调整内容" }, [
          h("h2", `积分调整:${word(DECISION_STATUS, x.status)}`),
          facts([
            ["维度", word(DIMENSION, x.dimension)],
            ["分值", `${x.points > 0 ? "+" : ""}${x.points} 分`],
            ["有效期", x.expires_in_days ? `${x.expires_in_days} 天` : "按规则"],
            ["理由", x.reason],
            ["提出时间", fmtTime(x.created_at)],
            ["复核意见", x.note],
          ]),
        ]),
        alert(m.error),
        notice(m.info),
        x.status === "pending" && isBureau() && !mine
          ? decisionPanel(m, [{ text: "批准调整", value: "approve" }, { text: "驳回", value: "reject", type: "danger", needNote: true }], act, { noteLabel: "复核意见" })
          : x.status === "pending"
            ? readOnlyNote("人工调整须由县局的另一名工作人员复核批准。")
            : null,
      ]);
    };
  },
};

// Propose a manual adjustment (the first of two people)
const ProposeAdjustment = {
  setup() {
    const sid = state.route.query.subject;
    const m = reactive({ dimension: "behaviour", points: "", expires_in_days: "", reason: "", error: "", info: "", busy: false, done: null });
    const [s] = loader(() => api.get(`/staff/subjects/${sid}`));
    const submit = async (e) => {
      e.preventDefault();
      m.error = m.info = "";
      const points = Number(m.points);
      if (!Number.isInteger(points) || points === 0 || Math.abs(points) > 100) return (m.error = "分值须为 -100 到 100 之间的非零整数");
      if (!m.reason.trim()) return (m.error = "请填写调整理由");
      const body = { dimension: m.dimension, points, reason: m.reason.trim() };
      if (m.expires_in_days) body.expires_in_days = Number(m.expires_in_days);
      if (!(await confirm("提出积分调整", `确定为${s.data ? s.data.name : "该对象"}提出 ${points > 0 ? "+" : ""}${points} 分的调整吗?须县局另一人批准后生效。`))) return;
      m.busy = true;
      try {
        m.done = await api.create(`/staff/subjects/${sid}/adjustments`, body);
        m.info = "已提出,等待县局复核";
      } catch (err) {
        m.error = err.fieldMessage("points") || err.fieldMessage("reason") ? `${err.message}:${err.fieldMessage("points") || err.fieldMessage("reason")}` : err.message;
      } finally {
        m.busy = false;
      }
    };
    return () =>
      screen("提出积分调整", [
        loading(s),
        subjectHeader(s.data),
        h("p", { class: "sw-hint" }, "人工调整须两人办理:司法所工作人员提出,县局另一名工作人员批准后才计分。"),
        isOfficer() && !m.done
          ? h("form", { onSubmit: submit, "aria-label": "提出积分调整" }, [
              field("维度", m, "dimension", { options: Object.entries(DIMENSION) }),
              field("分值", m, "points", { type: "number", min: -100, max: 100, step: 1, required: true }),
              field("有效天数(可不填)", m, "expires_in_days", { type: "number", min: 1, max: 3650, step: 1 }),
              field("调整理由", m, "reason", { type: "textarea", maxlength: 1000, required: true }),
              alert(m.error),
              h(V.Button, { type: "primary", block: true, nativeType: "submit", loading: m.busy }, () => "提出调整"),
            ])
          : !isOfficer()
            ? readOnlyNote("积分调整由司法所工作人员提出。")
            : null,
        notice(m.info),
        m.done ? h("p", [h("a", { href: `#/decisions/adjustment?id=${m.done.id}&subject=${sid}` }, "查看这条调整")]) : null,
      ]);
  },
};

const Employment = {
  setup() {
    const sid = state.route.query.subject;
    const m = reactive({ kind: "job", organisation: "", started_on: "", note: "", error: "", info: "", busy: false });
    const [s] = loader(() => api.get(`/staff/subjects/${sid}`));
    const submit = async (e) => {
      e.preventDefault();
      m.error = m.info = "";
      if (!m.organisation.trim() || !m.started_on) return (m.error = "请填写单位(学校)和开始日期");
      if (m.started_on > today()) return (m.error = "开始日期不能晚于今天");
      const what = m.kind === "job" ? "就业" : "就学";
      if (!(await confirm(`核实${what}`, `确定核实${s.data ? s.data.name : "该对象"}在“${m.organisation.trim()}”${what}吗?`))) return;
      m.busy = true;
      try {
        const body = { kind: m.kind, organisation: m.organisation.trim(), started_on: m.started_on };
        if (m.note.trim()) body.note = m.note.trim();
        const r = await api.create(`/staff/subjects/${sid}/employment`, body);
        m.info = r.event_id ? `已核实${what},已按规则加分` : `已核实${what}(此前已加过分)`;
      } catch (err) {
        const f = err.fieldMessage("started_on") || err.fieldMessage("organisation");
        m.error = f ? `${err.message}:${f}` : err.message;
      } finally {
        m.busy = false;
      }
    };
    return () =>
      screen("就业就学核实", [
        loading(s),
        subjectHeader(s.data),
        isOfficer()
          ? h("form", { onSubmit: submit, "aria-label": "就业就学核实" }, [
              field("类型", m, "kind", { options: [["job", "就业"], ["study", "就学"]] }),
              field("单位或学校", m, "organisation", { maxlength: 200, required: true }),
              field("开始日期", m, "started_on", { type: "date", required: true }),
              field("备注", m, "note", { type: "textarea", maxlength: 1000 }),
              alert(m.error),
              h(V.Button, { type: "primary", block: true, nativeType: "submit", loading: m.busy }, () => "确认核实"),
            ])
          : readOnlyNote("就业就学由司法所工作人员核实。"),
        notice(m.info),
      ]);
  },
};

// Verification of a community-service report or an offline / 集中教育 session: the record itself
// (GET /staff/service-reports/{id}, /staff/education-sessions/{id}: hours, place, witness, photos), and the inbox
// item's due time while it still waits.
function verification({ kind, title, path, record, recordFacts, recordPhotos, actions, done }) {
  return {
    setup() {
      const q = state.route.query;
      const m = reactive({ note: "", error: "", info: "", busy: false });
      const [s] = loader(async () => {
        const [item, subject, rec] = await Promise.all([
          inboxItem(kind, q.id, q.subject),
          subjectOf(q.subject),
          api.get(record(q.id)).catch((err) => (err.status === 404 ? null : Promise.reject(err))),
        ]);
        return { item, subject, record: rec };
      });
      const act = async (decision, note) => {
        const r = await api.post(path(q.id), { decision, note });
        if (s.data) s.data.record = { ...(s.data.record || {}), ...r };
        return done(r);
      };
      return () => {
        const d = s.data;
        if (!d) return screen(title, [loading(s)]);
        const it = d.item;
        const rec = d.record;
        return screen(title, [
          subjectHeader(d.subject),
          rec
            ? h("section", { class: "card", "aria-label": "核实内容" }, [
                h("h2", "核实内容"),
                facts(recordFacts(rec)),
                photos(recordPhotos(rec), "现场照片"),
              ])
            : readOnlyNote("没有找到这条记录,可能不在您的辖区。"),
          it
            ? h("section", { class: "card", "aria-label": "待核实事项" }, [
                h("h2", `${kindName(it)}:${it.title}`),
                facts([
                  ["提交时间", fmtTime(it.created_at)],
                  ["办理期限", dueText(it.due_at, it.overdue)],
                  ["所属司法所", it.office_name],
                ]),
                overdueMark(it.overdue),
              ])
            : m.info
              ? null
              : readOnlyNote("这条事项已不在待办中(可能已办理)。"),
          alert(m.error),
          notice(m.info),
          it && isOfficer() ? decisionPanel(m, actions, act, { noteLabel: "核实意见" }) : null,
        ]);
      };
    },
  };
}

const hoursText = (minutes) => `${Math.floor(minutes / 60)} 小时${minutes % 60 ? ` ${minutes % 60} 分钟` : ""}`;

const ServiceVerification = verification({
  kind: "service_verification",
  title: "公益活动核实",
  path: (id) => `/staff/service-reports/${id}/verification`,
  record: (id) => `/staff/service-reports/${id}`,
  recordFacts: (r) => [
    ["活动", r.activity_type],
    ["地点", r.place],
    ["组织单位", r.organisation],
    ["时间", `${fmtTime(r.started_at)} 至 ${fmtTime(r.ended_at)}`],
    ["时长", `${hoursText(r.minutes)}(按整小时计 ${Math.floor(r.minutes / 60)} 小时)`],
    ["证明人", r.witness_name ? `${r.witness_name}${r.witness_phone ? ` ${r.witness_phone}` : ""}` : r.witnessed_by ? "网格员" : null],
    ["说明", r.description],
    ["来源", r.source === "grid_worker" ? "网格员报告" : "对象自报"],
    ["状态", label("service_status", r.status)],
    ["核实意见", r.verification_note],
  ],
  recordPhotos: (r) => r.upload_ids || [],
  actions: [
    { text: "核实通过", value: "verify", confirmText: "核实通过将按整小时计分,确定吗?" },
    { text: "不予认可", value: "reject", type: "danger", needNote: true },
  ],
  done: (r) => `已办理:${label("service_status", r.status)}`,
});

const EducationVerification = verification({
  kind: "education_verification",
  title: "学习确认",
  path: (id) => `/staff/education-sessions/${id}/verification`,
  record: (id) => `/staff/education-sessions/${id}`,
  recordFacts: (e) => [
    ["方式", label("education_mode", e.mode)],
    ["课程", e.course],
    ["时间", e.ended_at ? `${fmtTime(e.started_at)} 至 ${fmtTime(e.ended_at)}` : fmtTime(e.started_at)],
    ["申报时长", e.claimed_minutes != null ? `${e.claimed_minutes} 分钟` : null],
    ["测验成绩", e.quiz_score],
    ["状态", label("education_status", e.status)],
    ["确认意见", e.verification_note],
  ],
  recordPhotos: (e) => (e.upload_id ? [e.upload_id] : []),
  actions: [
    { text: "确认学习", value: "confirm" },
    { text: "不予确认", value: "reject", type: "danger", needNote: true },
  ],
  done: (r) => `已办理:${label("education_status", r.status)}`,
});

// The score decisions awaiting me, by kind (pending appeals, merit applications, adjustments)
const Decisions = {
  setup() {
    const f = reactive({ kind: state.route.query.kind || "appeal" });
    const PATHS = { appeal: "/staff/appeals", merit: "/staff/merit-applications", adjustment: "/staff/adjustments" };
    const NAMES = { appeal: "积分申诉", merit: "加分申请", adjustment: "积分调整" };
    const [list, load] = useList(() => PATHS[f.kind], { status: "pending" });
    load();
    const switchKind = () => {
      list.items = [];
      list.loaded = false;
      load(1);
    };
    // these lists carry the subject's id only: their names, read once each
    const names = reactive({});
    const nameOf = (id) => {
      if (names[id] === undefined) {
        names[id] = "";
        subjectOf(id).then((x) => (names[id] = x ? x.name : ""));
      }
      return names[id] || `对象 #${id}`;
    };
    const text = (x) =>
      f.kind === "appeal" ? `申诉:${x.reason}` : f.kind === "merit" ? `加分申请 ${x.points} 分:${x.description}` : `积分调整 ${x.points > 0 ? "+" : ""}${x.points} 分:${x.reason}`;
    return () =>
      staffScreen("积分决定", [
        h("form", { class: "sw-filters", "aria-label": "选择类型", onChange: switchKind, onSubmit: (e) => e.preventDefault() }, [
          field("类型", f, "kind", { options: Object.entries(NAMES) }),
        ]),
        alert(list.error),
        h(
          "ul",
          { class: "list", "aria-label": `待处理的${NAMES[f.kind]}` },
          list.items.map((x) =>
            h("li", { class: "card sw-item", key: `${f.kind}-${x.id}` }, [
              h("a", { href: `#/decisions/${f.kind}?id=${x.id}&subject=${x.subject_id}`, class: "sw-open", "aria-label": `${nameOf(x.subject_id)} ${text(x)}` }, [
                h("p", [h("strong", nameOf(x.subject_id)), " ", text(x)]),
                h("p", { class: "time" }, x.due_at ? dueText(x.due_at, new Date(x.due_at) < new Date()) : fmtTime(x.created_at)),
              ]),
            ]),
          ),
        ),
        list.loaded && !list.items.length ? h("p", "暂无待处理事项") : null,
        loadMore(list.more, () => load(list.page + 1)),
      ]);
  },
};

export const routes = {
  "/inbox": Inbox,
  "/inbox/request": RequestDetail,
  "/warnings": Warnings,
  "/warnings/view": WarningDetail,
  "/warnings/evidence": Evidence,
  "/warnings/field-report": FieldReport,
  "/suggestions": Suggestions,
  "/suggestions/view": SuggestionDetail,
  "/decisions": Decisions,
  "/decisions/appeal": Appeal,
  "/decisions/merit": Merit,
  "/decisions/adjustment": Adjustment,
  "/decisions/adjust": ProposeAdjustment,
  "/decisions/employment": Employment,
  "/decisions/service": ServiceVerification,
  "/decisions/education": EducationVerification,
};
