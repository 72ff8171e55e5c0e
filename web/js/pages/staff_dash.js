// 矫务通 home (tabs) and 驾驶舱 (dashboard); messages and the officer's own notifications; CSV exports.
// - StaffTabs: the staff app's navigation (首页 待办 预警 建议 对象 驾驶舱 我的); every staff screen may include it
//   (h(StaffTabs) at the end of its children, or staffScreen(title, children) which adds it).
// - CsvButton: 导出 CSV of a staff list (Accept: text/csv through api.download, never a token in a URL).
// - Dashboard: GET /staff/dashboard (docs/warnings-and-suggestions.md#dashboard); every chart's figures are
//   also text and its aria-label; "#/dashboard?screen=large" is the bureau's wall display (dark, wide, refreshing).
import * as api from "../api.js";
import { fmtTime, h, loader, loading, NOTIFICATION_EVENT, onWindow, reactive, screen, state, toast, V } from "../ui.js";
import { Messages } from "./subject.js";

const { onMounted, onBeforeUnmount, ref, watch } = Vue;

// ---------------------------------------------------------------- navigation

export const TABS = [
  ["首页", "/"],
  ["待办", "/inbox"],
  ["预警", "/warnings"],
  ["建议", "/suggestions"],
  ["对象", "/subjects"],
  ["驾驶舱", "/dashboard"],
  ["我的", "/mine"],
];

function activeTab(path) {
  let best = "/";
  for (const [, p] of TABS) if (p !== "/" && (path === p || path.startsWith(p + "/")) && p.length > best.length) best = p;
  return best;
}

// The bottom navigation of the staff app: links (a screen reader reads them as 矫务通导航), the current one
// marked aria-current="page"; a spacer keeps the screen's last lines above it.
export const StaffTabs = {
  name: "StaffTabs",
  setup() {
    return () => {
      const on = activeTab(state.route.path);
      return [
        h("div", { class: "sd-tabs-space", "aria-hidden": "true" }),
        h(
          "nav",
          { class: "sd-tabs", "aria-label": "矫务通导航" },
          TABS.map(([text, p]) =>
            h("a", { href: "#" + p, class: "sd-tab" + (p === on ? " sd-on" : ""), "aria-current": p === on ? "page" : null }, text),
          ),
        ),
      ];
    };
  },
};

// A staff screen: ui.screen with the tabs at the bottom
export function staffScreen(title, children, opts) {
  return screen(title, [...children, h(StaffTabs)], opts);
}

// ---------------------------------------------------------------- labels

const ROLE = { officer: "司法所工作人员", bureau: "县级社区矫正机构" };
const COLOUR = { green: "绿", blue: "蓝", yellow: "黄", orange: "橙", red: "红" };
const COLOUR_HEX = { green: "#07c160", blue: "#1989fa", yellow: "#f7ba1e", orange: "#ff7d00", red: "#ee0a24" };
const LEVEL = { strict: "严管", normal: "普管", lenient: "宽管" };
export const WORK_KIND = {
  request: "审批申请",
  service_verification: "公益活动核实",
  education_verification: "学习核实",
  appeal: "申诉",
  merit_application: "加分申请",
  adjustment: "积分调整",
  suspect_evidence: "可疑照片",
  negative_field_report: "负面走访报告",
  warning: "预警",
  suggestion: "建议",
};
export const WARNING_KIND = {
  CHECKIN_MISSED: "漏打卡",
  GEOFENCE: "越界打卡",
  LEAVE_OVERDUE: "外出逾期未销假",
  SCORE_RED: "红色等级",
  KEYWORD_HIGH: "走访高危关键词",
  EVIDENCE_SUSPECT: "可疑照片",
  FACE_REFERENCE_MISSING: "缺少人脸底照",
};
const SUGGESTION_STATUS = { open: "待处理", accepted: "已采纳", dismissed: "不采纳", done: "已完成" };
const SUGGESTION_CATEGORY = { supervision: "监督管理", education: "教育矫正", employment_help: "就业帮扶", counselling: "谈话疏导", incentive: "激励" };
const SUGGESTION_OUTCOME = { effective: "有效", partially_effective: "部分有效", not_effective: "无效", referred: "已转介" };
const DISMISS_REASON = {
  not_applicable: "不适用",
  already_addressed: "已处理",
  insufficient_evidence: "证据不足",
  duplicate: "重复",
  other: "其他",
};
const name = (map, k) => map[k] || k;
const hex = (c) => COLOUR_HEX[c] || c;
const entries = (obj) => Object.entries(obj || {});

// ---------------------------------------------------------------- CSV export

// Every staff list the API also gives as CSV (mobile_api/http/exports.py; Accept: text/csv), and whether it
// takes an office_id filter. A subject's score events and location history are exported from the profile.
export const EXPORTS = [
  ["对象名单", "/staff/subjects", true],
  ["待办", "/staff/inbox", true],
  ["申请", "/staff/requests", false],
  ["预警", "/staff/warnings", true],
  ["走访报告", "/staff/field-reports", false],
  ["建议", "/staff/suggestions", true],
  ["积分调整", "/staff/adjustments", false],
  ["申诉", "/staff/appeals", false],
  ["加分申请", "/staff/merit-applications", false],
];

// Save a Blob under a file name (an object URL, released after the click)
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.rel = "noopener";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}

// 导出 CSV: the list at `path` (with `params`) fetched with the Authorization header and saved as a file
export const CsvButton = {
  name: "CsvButton",
  props: { path: { type: String, required: true }, params: { type: Object, default: () => ({}) }, title: { type: String, default: "" } },
  setup(props) {
    const busy = ref(false);
    const run = async () => {
      busy.value = true;
      try {
        const { blob, filename } = await api.download(props.path, props.params);
        saveBlob(blob, filename);
        toast(`已导出:${filename}`);
      } catch (err) {
        toast(err.message);
      } finally {
        busy.value = false;
      }
    };
    return () =>
      h(
        V.Button,
        {
          size: "small",
          plain: true,
          type: "primary",
          nativeType: "button",
          loading: busy.value,
          "aria-label": props.title ? `导出 CSV:${props.title}` : "导出 CSV",
          onClick: run,
        },
        () => (props.title ? `导出 CSV:${props.title}` : "导出 CSV"),
      );
  },
};

function exportsSection(officeId) {
  return h("section", { class: "card sd-exports", "aria-label": "导出数据" }, [
    h("h2", "导出数据(CSV)"),
    h("p", { class: "notice" }, officeId ? "按所选司法所导出(对象、待办、预警、建议);其余为辖区全部。" : "导出辖区内的全部记录。"),
    h(
      "div",
      { class: "sd-export-list" },
      EXPORTS.map(([title, path, byOffice]) => h(CsvButton, { title, path, params: byOffice && officeId ? { office_id: officeId } : {} })),
    ),
  ]);
}

// ---------------------------------------------------------------- staff home

export const StaffHome = {
  setup() {
    const [s, load] = loader(async () => {
      const [open, overdue, notes] = await Promise.all([
        api.page("/staff/inbox", { page_size: 3 }),
        api.page("/staff/inbox", { page_size: 1, overdue: true }),
        api.page("/me/notifications", { page_size: 200 }),
      ]);
      const unread = notes.items.filter((n) => !n.read_at).length;
      return { open: open.total || 0, overdue: overdue.total || 0, unread, more: notes.more, first: open.items };
    });
    // a notification that arrives live (live.js) updates the counts
    onWindow(NOTIFICATION_EVENT, () => load());
    return () => {
      const d = s.data;
      return screen(
        "矫务通",
        [
          h("p", [`您好,${state.user.display_name}`, h("span", { class: "notice" }, `(${ROLE[state.user.role] || ""})`)]),
          loading(s),
          d
            ? h("section", { class: "sd-summary", "aria-label": "我的工作" }, [
                h("div", { class: "card sd-kpi" }, [h("strong", String(d.open)), h("span", " 项待办")]),
                h("div", { class: "card sd-kpi" + (d.overdue ? " sd-alarm" : "") }, [h("strong", String(d.overdue)), h("span", " 项逾期")]),
                h("a", { class: "card sd-kpi sd-link", href: "#/messages", "aria-label": `消息:未读 ${d.unread}${d.more ? "+" : ""} 条` }, [
                  h("strong", `${d.unread}${d.more ? "+" : ""}`),
                  h("span", " 条未读消息"),
                ]),
              ])
            : null,
          d && d.first.length
            ? h("section", { class: "card", "aria-label": "最紧急的待办" }, [
                h("h2", "最紧急的待办"),
                h(
                  "ul",
                  { class: "sd-figs" },
                  d.first.map((i) =>
                    h("li", { class: i.overdue ? "sd-red" : "" }, [
                      `${name(WORK_KIND, i.kind)}:${i.title}`,
                      i.subject_name && !i.title.includes(i.subject_name) ? `(${i.subject_name})` : "",
                      i.due_at ? `,${i.overdue ? "已逾期," : ""}截止 ${fmtTime(i.due_at)}` : "",
                    ]),
                  ),
                ),
              ])
            : null,
          d ? h("p", { class: "notice" }, d.overdue ? "有逾期事项,请在待办中优先办理。" : "待办按逾期优先、截止时间先后排列。") : null,
          h("nav", { class: "menu", "aria-label": "更多功能" }, [
            h("a", { href: "#/decisions", class: "tile" }, "积分决定"),
            state.user.role === "bureau" ? h("a", { href: "#/dashboard?screen=large", class: "tile" }, "大屏模式") : null,
          ]),
          h(StaffTabs),
        ],
        { back: false },
      );
    };
  },
};

// ---------------------------------------------------------------- charts

// An ECharts chart (SVG renderer) whose figures are also its aria-label (ECharts' aria description too)
export const EChart = {
  name: "EChart",
  props: { option: Object, label: String, theme: { type: String, default: "" }, height: { type: String, default: "220px" } },
  setup(props) {
    const el = ref(null);
    let chart = null;
    const apply = () =>
      chart &&
      chart.setOption(
        { backgroundColor: "transparent", ...props.option, aria: { enabled: true, label: { description: props.label } } },
        true,
      );
    const resize = () => chart && chart.resize();
    onMounted(() => {
      chart = echarts.init(el.value, props.theme || null, { renderer: "svg" });
      apply();
      window.addEventListener("resize", resize);
    });
    watch(() => [props.option, props.label], apply);
    onBeforeUnmount(() => {
      window.removeEventListener("resize", resize);
      if (chart) chart.dispose();
    });
    return () => h("div", { ref: el, class: "sd-chart", role: "img", "aria-label": props.label, style: { height: props.height } });
  },
};

// Text lines of a section's figures (what a chart shows, readable and testable)
function figs(lines, labelText) {
  return h("ul", { class: "sd-figs", "aria-label": labelText }, lines.map((t) => h("li", t)));
}

// ---------------------------------------------------------------- dashboard sections

function gradeLines(sub) {
  return sub.by_grade.map((g) => `${g.name}(${name(COLOUR, g.colour)}) ${g.count} 人`);
}

function subjectsSection(d, theme, large) {
  const sub = d.subjects;
  const grades = gradeLines(sub);
  const extra = [`基础分待定 ${sub.base_pending} 人`, `未评分 ${sub.unscored} 人`];
  const levels = ["strict", "normal", "lenient"].map((k) => `${LEVEL[k]} ${sub.by_supervision_level[k] || 0} 人`);
  const option = {
    tooltip: { trigger: "item" },
    legend: { bottom: 0, itemWidth: 12, itemHeight: 10, textStyle: { color: large ? "#dfe6f0" : "#323233", fontSize: large ? 14 : 11 } },
    series: [
      {
        type: "pie",
        radius: ["38%", "68%"],
        center: ["50%", "44%"],
        label: { position: "inside", formatter: (p) => (p.value ? String(p.value) : ""), color: "#fff", fontWeight: 600 },
        data: sub.by_grade.map((g) => ({ name: g.name, value: g.count, itemStyle: { color: hex(g.colour) } })),
      },
    ],
  };
  return h("section", { class: "card sd-sec sd-subjects", "aria-label": "在矫对象" }, [
    h("h2", "在矫对象"),
    h("p", { class: "sd-big" }, [h("strong", String(sub.total)), " 人在矫"]),
    h(EChart, { option, theme, label: `按信用等级:${grades.join(",")};${extra.join(",")}`, height: large ? "210px" : "220px" }),
    figs([...grades, ...extra], "各等级人数"),
    figs(levels, "监管等级"),
  ]);
}

function distributionSection(d, theme, large) {
  const all = d.score_distribution;
  const used = all.map((b, i) => (b.count ? i : -1)).filter((i) => i >= 0);
  // the chart shows the buckets from the lowest to the highest occupied one (one empty bucket either side)
  const rows = used.length ? all.slice(Math.max(0, used[0] - 1), Math.min(all.length, used[used.length - 1] + 2)) : all;
  const nonzero = rows.filter((b) => b.count).map((b) => `${b.from}–${b.to} 分 ${b.count} 人`);
  const option = {
    tooltip: { trigger: "axis" },
    grid: { left: 36, right: 8, top: 16, bottom: 40 },
    xAxis: { type: "category", data: rows.map((b) => String(b.from)), axisLabel: { rotate: 45 } },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", data: rows.map((b) => b.count), itemStyle: { color: "#1989fa" } }],
  };
  return h("section", { class: "card sd-sec sd-dist", "aria-label": "积分分布" }, [
    h("h2", "积分分布(每 50 分)"),
    h(EChart, { option, theme, label: `积分分布:${nonzero.join(",") || "暂无"}`, height: large ? "190px" : "200px" }),
    figs(nonzero.length ? nonzero : ["暂无评分"], "各分数段人数"),
  ]);
}

function trendSection(d, theme, large) {
  const days = d.trend;
  const known = days.filter((t) => t.average !== null && t.average !== undefined);
  const last = known[known.length - 1];
  const first = known[0];
  const summary = known.length
    ? `近30天平均分:${known.map((t) => `${t.date} ${t.average} 分(${t.subjects} 人)`).join(",")}`
    : "近30天平均分:暂无";
  const option = {
    tooltip: { trigger: "axis" },
    grid: { left: 44, right: 12, top: 16, bottom: 28 },
    xAxis: { type: "category", data: days.map((t) => t.date.slice(5)) },
    yAxis: { type: "value", min: (v) => Math.floor(v.min / 10) * 10 - 10, max: (v) => Math.ceil(v.max / 10) * 10 + 10 },
    series: [{ type: "line", data: days.map((t) => t.average), connectNulls: true, smooth: true, showSymbol: true, symbolSize: 6, itemStyle: { color: "#07c160" } }],
  };
  return h("section", { class: "card sd-sec sd-trend", "aria-label": "积分趋势" }, [
    h("h2", "积分趋势(近30天平均分)"),
    h(EChart, { option, theme, label: summary, height: large ? "190px" : "200px" }),
    figs(
      last
        ? [`${last.date} 平均 ${last.average} 分(${last.subjects} 人)`, ...(first !== last ? [`${first.date} 平均 ${first.average} 分(${first.subjects} 人)`] : [])]
        : ["暂无评分"],
      "平均分",
    ),
    h("details", { class: "sd-table" }, [
      h("summary", "逐日数据"),
      h("table", { "aria-label": "逐日平均分" }, [
        h("thead", h("tr", [h("th", "日期"), h("th", "平均分"), h("th", "人数")])),
        h(
          "tbody",
          days.map((t) => h("tr", [h("td", t.date), h("td", t.average === null ? "—" : String(t.average)), h("td", String(t.subjects))])),
        ),
      ]),
    ]),
  ]);
}

// A compliance rate as the page writes it: "87.5%", or "—" when nothing was due
const pct = (rate) => (rate === null || rate === undefined ? "—" : `${rate}%`);

// Check-in compliance: the periods decided in the last 30 days (docs/warnings-and-suggestions.md#dashboard)
export function checkinLines(c) {
  return [
    `应打卡周期 ${c.due} 个`,
    `按时打卡 ${c.on_time} 个`,
    `迟到打卡 ${c.late} 个`,
    `漏打卡 ${c.missed} 个`,
    `打卡合规率 ${pct(c.rate_pct)}`,
    `有漏打卡的对象 ${c.subjects_missed} 人`,
  ];
}

function checkinSection(d, theme, large) {
  const c = d.checkins;
  const lines = checkinLines(c);
  const option = {
    tooltip: { trigger: "item" },
    legend: { bottom: 0, itemWidth: 12, itemHeight: 10, textStyle: { color: large ? "#dfe6f0" : "#323233", fontSize: large ? 14 : 11 } },
    series: [
      {
        type: "pie",
        radius: ["38%", "68%"],
        center: ["50%", "44%"],
        label: { position: "inside", formatter: (p) => (p.value ? String(p.value) : ""), color: "#fff", fontWeight: 600 },
        data: [
          { name: "按时", value: c.on_time, itemStyle: { color: "#07c160" } },
          { name: "迟到", value: c.late, itemStyle: { color: "#f7ba1e" } },
          { name: "漏打卡", value: c.missed, itemStyle: { color: "#ee0a24" } },
        ],
      },
    ],
  };
  return h("section", { class: "card sd-sec sd-checkin", "aria-label": "打卡情况" }, [
    h("h2", "打卡情况(近30天)"),
    h("p", { class: "sd-big" }, [h("strong", { class: c.missed ? "sd-red" : "" }, pct(c.rate_pct)), " 打卡合规率"]),
    c.due
      ? h(EChart, {
          option,
          theme,
          label: `近30天打卡:应打卡 ${c.due} 个周期,按时 ${c.on_time} 个,迟到 ${c.late} 个,漏打卡 ${c.missed} 个,合规率 ${pct(c.rate_pct)}`,
          height: large ? "190px" : "200px",
        })
      : null,
    figs(lines, "打卡统计"),
    h("p", { class: "notice" }, `统计 ${c.from} 起 ${c.days} 天内已有结果的打卡周期;合规率 =(按时 + 迟到)÷ 应打卡。`),
  ]);
}

function workSection(d, theme, large) {
  const w = d.work;
  const lines = w.by_kind.map((k) => `${name(WORK_KIND, k.kind)} ${k.open} 项(逾期 ${k.overdue} 项)`);
  const option = {
    tooltip: { trigger: "axis" },
    legend: { top: 0, data: ["待办", "逾期"], textStyle: { color: large ? "#dfe6f0" : "#323233" } },
    grid: { left: 84, right: 12, top: 28, bottom: 20 },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: w.by_kind.map((k) => name(WORK_KIND, k.kind)) },
    series: [
      { name: "待办", type: "bar", data: w.by_kind.map((k) => k.open), itemStyle: { color: "#1989fa" } },
      { name: "逾期", type: "bar", data: w.by_kind.map((k) => k.overdue), itemStyle: { color: "#ee0a24" } },
    ],
  };
  return h("section", { class: "card sd-sec sd-work", "aria-label": "待办工作" }, [
    h("h2", "待办工作(辖区)"),
    h("p", { class: "sd-big" }, [h("strong", String(w.open)), " 项待办,", h("strong", { class: w.overdue ? "sd-red" : "" }, String(w.overdue)), " 项逾期"]),
    w.by_kind.length
      ? h(EChart, { option, theme, label: `待办按类型:${lines.join(",")}`, height: `${Math.max(120, 40 + w.by_kind.length * 36)}px` })
      : null,
    figs(lines.length ? lines : ["暂无待办"], "各类待办"),
  ]);
}

function warningsSection(d, theme, large) {
  const wk = d.warnings.by_kind;
  const lines = wk.map(
    (k) =>
      `${name(WARNING_KIND, k.kind)}:待处理 ${k.open},已查看 ${k.acknowledged},逾期 ${k.overdue},高危未处理 ${k.high_unhandled},近30天新增 ${k.raised_30d},近30天已处理 ${k.handled_30d}`,
  );
  const option = {
    tooltip: { trigger: "axis" },
    grid: { left: 96, right: 12, top: 12, bottom: 20 },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: wk.map((k) => name(WARNING_KIND, k.kind)) },
    series: [{ name: "未处理", type: "bar", data: wk.map((k) => k.open + k.acknowledged), itemStyle: { color: "#ff7d00" } }],
  };
  return h("section", { class: "card sd-sec sd-warnings", "aria-label": "预警" }, [
    h("h2", "预警"),
    h("p", { class: "sd-big" }, [h("strong", String(d.warnings.unhandled)), " 条未处理"]),
    wk.length
      ? h(EChart, {
          option,
          theme,
          label: `未处理预警按类型:${wk.map((k) => `${name(WARNING_KIND, k.kind)} ${k.open + k.acknowledged} 条`).join(",")}`,
          height: `${Math.max(120, 30 + wk.length * 32)}px`,
        })
      : null,
    figs(lines.length ? lines : ["暂无预警"], "各类预警"),
  ]);
}

function suggestionsSection(d, theme, large) {
  const sg = d.suggestions;
  const cats = entries(sg.open_by_category).map(([k, n]) => `${name(SUGGESTION_CATEGORY, k)} ${n} 条`);
  const option = {
    tooltip: { trigger: "item" },
    legend: { bottom: 0, itemWidth: 12, itemHeight: 10, textStyle: { color: large ? "#dfe6f0" : "#323233", fontSize: large ? 14 : 11 } },
    series: [
      {
        type: "pie",
        radius: ["35%", "65%"],
        center: ["50%", "44%"],
        label: { position: "inside", formatter: (p) => (p.value ? String(p.value) : ""), color: "#fff", fontWeight: 600 },
        data: entries(sg.open_by_category).map(([k, n]) => ({ name: name(SUGGESTION_CATEGORY, k), value: n })),
      },
    ],
  };
  const list = (title, map, obj) => {
    const items = entries(obj).map(([k, n]) => `${name(map, k)} ${n} 条`);
    return `${title}:${items.length ? items.join(",") : "暂无"}`;
  };
  return h("section", { class: "card sd-sec sd-suggestions", "aria-label": "矫正建议" }, [
    h("h2", "精准矫正建议"),
    h("p", { class: "sd-big" }, [h("strong", String(sg.total)), " 条建议"]),
    cats.length ? h(EChart, { option, theme, label: `待办建议按类别:${cats.join(",")}`, height: large ? "210px" : "200px" }) : null,
    figs(
      [
        list("状态", SUGGESTION_STATUS, sg.by_status),
        list("待办建议类别", SUGGESTION_CATEGORY, sg.open_by_category),
        list("处理结果", SUGGESTION_OUTCOME, sg.by_outcome),
        list("不采纳原因", DISMISS_REASON, sg.by_dismiss_reason),
      ],
      "建议统计",
    ),
  ]);
}

function officeLine(o) {
  const colours = Object.keys(COLOUR)
    .map((c) => `${COLOUR[c]} ${(o.by_colour || {})[c] || 0}`)
    .join(",");
  const c = o.checkins;
  return (
    `${o.name}:对象 ${o.subjects} 人(${colours}),待办 ${o.open_work} 项,逾期 ${o.overdue_work} 项,未处理预警 ${o.unhandled_warnings} 条,待办建议 ${o.open_suggestions} 条,` +
    `打卡合规率 ${pct(c.rate_pct)}(应打卡 ${c.due},按时 ${c.on_time},迟到 ${c.late},漏打卡 ${c.missed},漏打卡对象 ${c.subjects_missed} 人)`
  );
}

function officesSection(d, theme, large) {
  const offices = d.offices;
  const option = {
    tooltip: { trigger: "axis" },
    legend: { top: 0, textStyle: { color: large ? "#dfe6f0" : "#323233" } },
    grid: { left: 40, right: 12, top: 36, bottom: 28 },
    xAxis: { type: "category", data: offices.map((o) => o.name) },
    yAxis: { type: "value", minInterval: 1 },
    series: Object.keys(COLOUR).map((c) => ({
      name: COLOUR[c],
      type: "bar",
      stack: "grade",
      data: offices.map((o) => (o.by_colour || {})[c] || 0),
      itemStyle: { color: hex(c) },
    })),
  };
  const lines = offices.map(officeLine);
  return h("section", { class: "card sd-sec sd-offices", "aria-label": "各司法所" }, [
    h("h2", "各司法所"),
    offices.length > 1 || large ? h(EChart, { option, theme, label: `各司法所等级人数:${lines.join(";")}`, height: large ? "210px" : "220px" }) : null,
    figs(lines.length ? lines : ["暂无"], "各司法所数据"),
  ]);
}

function sections(d, theme, large) {
  return [
    subjectsSection(d, theme, large),
    trendSection(d, theme, large),
    workSection(d, theme, large),
    warningsSection(d, theme, large),
    checkinSection(d, theme, large),
    suggestionsSection(d, theme, large),
    distributionSection(d, theme, large),
    officesSection(d, theme, large),
  ];
}

// ---------------------------------------------------------------- dashboard screens

// The offices of the caller's jurisdiction (the unfiltered dashboard's rows), kept for the office selector,
// per user (another login in the same page has other offices)
let officeList = null;
let officeListOf = null;
const officesOf = (d) => d.offices.map((o) => ({ id: o.office_id, name: o.name }));

function useDashboard() {
  const q = state.route.query;
  const officeId = q.office ? Number(q.office) : null;
  const [s, load] = loader(async () => {
    const d = await api.get("/staff/dashboard", { office_id: officeId || undefined });
    const user = state.user && state.user.id;
    if (!officeId) officeList = officesOf(d);
    else if (!officeList || officeListOf !== user) officeList = officesOf(await api.get("/staff/dashboard"));
    officeListOf = user;
    return d;
  });
  return { s, load, officeId };
}

function dashPath(query) {
  const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== null && v !== undefined && v !== ""));
  const t = qs.toString();
  return "#/dashboard" + (t ? "?" + t : "");
}

function officePicker(officeId, large) {
  if (!officeList || officeList.length < 2) return null;
  return h("div", { class: "field sd-picker" }, [
    h("label", { for: "sd-office" }, "司法所"),
    h(
      "select",
      {
        id: "sd-office",
        value: officeId ? String(officeId) : "",
        onChange: (e) => (location.hash = dashPath({ office: e.target.value, screen: large ? "large" : null })),
      },
      [h("option", { value: "" }, "全部司法所"), ...officeList.map((o) => h("option", { value: String(o.id), selected: o.id === officeId }, o.name))],
    ),
  ]);
}

function scopeText(d, officeId) {
  if (officeId) return (d.offices[0] && d.offices[0].name) || "";
  return d.offices.map((o) => o.name).join("、");
}

const DashboardPhone = {
  setup() {
    const { s, load, officeId } = useDashboard();
    return () => {
      const d = s.data;
      return screen("驾驶舱", [
        loading(s),
        d
          ? h("div", { class: "sd-head" }, [
              h("p", { class: "sd-scope", "aria-label": "统计范围" }, `统计范围:${scopeText(d, officeId)}`),
              h("p", { class: "time" }, `数据时间 ${fmtTime(d.as_of)}`),
              officePicker(officeId, false),
              h("div", { class: "sd-actions" }, [
                h(V.Button, { size: "small", nativeType: "button", onClick: load }, () => "刷新"),
                state.user.role === "bureau"
                  ? h("a", { class: "sd-biglink", href: dashPath({ office: officeId, screen: "large" }) }, "大屏模式")
                  : null,
              ]),
            ])
          : null,
        ...(d ? sections(d, "", false) : []),
        d ? exportsSection(officeId) : null,
        h(StaffTabs),
      ]);
    };
  },
};

// The wall display: a wide grid, dark theme, refreshed every ?refresh= seconds (60 by default, at least 5)
const DashboardLarge = {
  setup() {
    const { s, load, officeId } = useDashboard();
    const every = Math.max(5, Number(state.route.query.refresh) || 60);
    const area = ref("");
    api
      .get("/me")
      .then((me) => (area.value = (me.jurisdiction || []).map((j) => j.name).join("、")))
      .catch(() => {});
    const clock = ref(new Date());
    const timers = [];
    const stamp = reactive({ at: null, count: 0 });
    watch(
      () => s.data,
      (d) => {
        if (d) {
          stamp.at = new Date();
          stamp.count += 1;
        }
      },
    );
    onMounted(() => {
      timers.push(setInterval(load, every * 1000));
      timers.push(setInterval(() => (clock.value = new Date()), 1000));
    });
    onBeforeUnmount(() => timers.forEach(clearInterval));
    const kpi = (text, value, cls = "") =>
      h("div", { class: "sd-kpi-l " + cls, role: "group", "aria-label": `${text} ${value}` }, [h("strong", String(value)), h("span", text)]);
    return () => {
      const d = s.data;
      const sub = d && d.subjects;
      return h("div", { class: "sd-large" }, [
        h("header", { class: "sd-large-head" }, [
          h("h1", `${area.value}社区矫正驾驶舱`),
          d ? h("p", { class: "sd-scope", "aria-label": "统计范围" }, `统计范围:${scopeText(d, officeId)}`) : null,
          h("p", { class: "sd-clock" }, fmtTime(clock.value.toISOString()) + ":" + String(clock.value.getSeconds()).padStart(2, "0")),
          d
            ? h("p", { class: "sd-updated", role: "status" }, `数据时间 ${fmtTime(d.as_of)},每 ${every} 秒自动刷新(已刷新 ${stamp.count} 次)`)
            : null,
          officePicker(officeId, true),
          h("a", { class: "sd-exit", href: dashPath({ office: officeId }) }, "退出大屏"),
        ]),
        loading(s),
        d
          ? // eight tiles: as many columns as fit (one row on a wall display), whatever staff.css's count
            h("section", { class: "sd-kpis", "aria-label": "关键指标", style: { gridTemplateColumns: "repeat(auto-fit, minmax(7em, 1fr))" } }, [
              kpi("在矫对象", sub.total),
              kpi("红色等级", sub.by_colour.red || 0, "sd-red"),
              kpi("橙色等级", sub.by_colour.orange || 0, "sd-orange"),
              kpi("待办", d.work.open),
              kpi("逾期", d.work.overdue, d.work.overdue ? "sd-red" : ""),
              kpi("未处理预警", d.warnings.unhandled, "sd-orange"),
              kpi("打卡合规率", pct(d.checkins.rate_pct), d.checkins.missed ? "sd-orange" : ""),
              kpi("建议", d.suggestions.total),
            ])
          : null,
        d ? h("div", { class: "sd-grid" }, sections(d, "dark", true)) : null,
      ]);
    };
  },
};

export const Dashboard = {
  setup() {
    const large = state.route.query.screen === "large";
    return () => h(large ? DashboardLarge : DashboardPhone);
  },
};

// 消息 for staff: the same list as the subject's (GET /me/notifications, read flags), with the tabs
export const StaffMessages = {
  setup() {
    return () => h("div", { class: "sd-messages" }, [h(Messages), h(StaffTabs)]);
  },
};

export const routes = { "/dashboard": Dashboard, "/messages": StaffMessages };
