// 在矫通: 首页, 打卡, 外出申请 (+ 销假), 我的积分, 消息.
import * as api from "../api.js";
import * as queue from "../queue.js";
import {
  alert,
  button,
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
  NOTIFICATION_EVENT,
  notice,
  onWindow,
  pagedList,
  position,
  progress,
  reactive,
  screen,
  state,
  today,
  toast,
  V,
} from "../ui.js";

const { onMounted, onBeforeUnmount, ref } = Vue;

function periodText(p) {
  return `${p.start_date} 至 ${p.end_date},截止 ${fmtTime(p.due_at)}`;
}

function checkinState(s) {
  if (!s) return null;
  const rows = [];
  if (s.late_period && !s.late_period.checked)
    rows.push(h("p", { class: "warn" }, `上一期未打卡(${periodText(s.late_period)}),请在 ${fmtTime(s.late_period.late_until)} 前补打卡`));
  const p = s.current_period;
  if (p) rows.push(h("p", `本期打卡:${p.checked ? "已完成" : "未完成"}(${periodText(p)})`));
  else rows.push(h("p", `下次打卡:${fmtTime(s.next_due_at) || "暂无"}`));
  if (s.pending_checkins) rows.push(h("p", "有打卡正在核验中"));
  return h("section", { class: "card", "aria-label": "今日打卡" }, [h("h2", `打卡(每 ${s.interval_days} 天一次)`), ...rows]);
}

function scoreCard(sc) {
  if (!sc) return null;
  const up = sc.to_next_grade && sc.to_next_grade.up;
  return h("section", { class: "card score", "aria-label": `信用积分 ${sc.total} 分,${sc.grade_name}` }, [
    h("h2", "我的积分"),
    h("p", { class: "total" }, [
      h("strong", String(sc.total)),
      " 分 ",
      h("span", { class: "grade", style: { background: sc.colour } }, sc.grade_name),
    ]),
    up ? h("p", `距${up.grade_name}还差 ${up.points} 分`) : null,
    sc.base_pending ? h("p", "基础分待定(临时分)") : null,
  ]);
}

export const Home = {
  setup() {
    const unreadCount = async () => (await api.page("/me/notifications", { page_size: 50 })).items.filter((n) => !n.read_at).length;
    const [s] = loader(async () => {
      const [schedule, score, unread] = await Promise.all([
        api.get("/me/checkin-schedule").catch(() => null),
        api.get("/me/score").catch(() => null),
        unreadCount(),
      ]);
      return { schedule, score, unread };
    });
    // a live notification (live.js): count the unread messages again
    onWindow(NOTIFICATION_EVENT, async () => {
      try {
        const unread = await unreadCount();
        if (s.data) s.data.unread = unread;
      } catch {
        // the count stays as it was; the next visit reads it again
      }
    });
    const menu = [
      ["打卡", "/checkin"],
      ["外出申请", "/requests"],
      ["学习", "/study"],
      ["我的积分", "/score"],
      ["公益活动", "/service"],
      ["我要加分", "/merit"],
      ["我要申诉", "/appeal"],
      ["我的权益", "/rights"],
      ["消息", "/messages"],
      ["我的", "/mine"],
    ];
    return () =>
      screen(
        "在矫通",
        [
          h("p", `您好,${state.user.display_name}`),
          loading(s),
          s.data ? checkinState(s.data.schedule) : null,
          s.data ? scoreCard(s.data.score) : null,
          s.data
            ? h("p", { class: "card" }, [h("a", { href: "#/messages" }, `未读消息 ${s.data.unread} 条`)])
            : null,
          h("nav", { class: "menu", "aria-label": "功能" }, menu.map(([t, p]) => h("a", { href: "#" + p, class: "tile" }, t))),
        ],
        { back: false },
      );
  },
};

async function poll(fn, done, ms = 1500, limit = 120) {
  for (let i = 0; i < limit; i++) {
    const v = await fn();
    if (done(v)) return v;
    await new Promise((r) => setTimeout(r, ms));
  }
  return fn();
}

function checkinResult(c, reasons) {
  if (!c) return null;
  let text = `打卡结果:${label("checkin_status", c.status)}`;
  if (c.status === "counted") text += `(${label("outcome", c.outcome)})`;
  const why = reasons || [];
  return h("section", { class: "card result", role: "status", "aria-live": "polite" }, [
    h("p", { class: "status-" + c.status }, text),
    c.inside_area === false ? h("p", { class: "warn" }, `不在允许活动范围内(距离约 ${Math.round(c.distance_m)} 米)`) : null,
    why.length
      ? h("div", { class: "suspect", "aria-label": "照片存疑的原因" }, [
          h("p", { class: "warn" }, c.status === "invalid" ? "照片未通过核验,原因:" : "照片存疑,司法所将人工核查,原因:"),
          h("ul", why.map((r) => h("li", { class: "warn" }, r.message))),
        ])
      : null,
  ]);
}

// Take a photo (the camera's own file, with its EXIF) and a position, send them, follow the result.
// `send(body)` makes the create; offline the same body waits in the queue as `kind`.
function usePhotoCheckin({ kind, send, requestId, after }) {
  const m = reactive({ progress: null, error: "", info: "", result: null, reasons: [], busy: false, last: null });
  const run = async (file, attempt) => {
    m.error = m.info = "";
    m.busy = true;
    const job = attempt || { file, captured_at: new Date().toISOString(), client_id: api.newId() };
    m.last = job;
    try {
      if (!job.pos) {
        m.info = "正在定位…";
        job.pos = await position();
      }
      m.info = `位置:${job.pos.latitude.toFixed(5)}, ${job.pos.longitude.toFixed(5)}(精度 ±${Math.round(job.pos.accuracy_m)} 米)`;
      const body = { client_id: job.client_id, captured_at: job.captured_at, ...job.pos };
      const queueIt = async () => {
        await queue.add({
          kind,
          label: kind === "return" ? "销假" : "打卡",
          body: { ...body, offline: true },
          photos: [job.file],
          purpose: "checkin",
          photoField: "upload_id",
          requestId,
        });
        m.progress = null;
        m.info = "网络不可用:已保存,联网后自动发送";
        m.last = null;
      };
      if (!navigator.onLine) return await queueIt();
      try {
        if (!job.upload) job.upload = await api.upload(job.file, "checkin", (f) => (m.progress = f));
        m.progress = null;
        const created = await send({ ...body, upload_id: job.upload.id });
        m.last = null;
        if (after) return after(created, m);
        m.result = created;
        const c = await poll(
          () => api.get(`/me/checkins/${created.id}`),
          (x) => x.status !== "pending",
        );
        m.result = c;
        // a suspect or rejected photo's reasons, in the server's plain Chinese
        const up = await api.getUpload(c.upload_id, "checkin");
        m.reasons = ["suspect", "rejected"].includes(up.status) ? up.reasons || [] : [];
      } catch (err) {
        if (err.offline) return await queueIt();
        throw err;
      }
    } catch (err) {
      m.error = err.message;
    } finally {
      m.busy = false;
    }
  };
  return { m, run };
}

export const CheckIn = {
  setup() {
    const [s, reload] = loader(async () => ({
      schedule: await api.get("/me/checkin-schedule"),
      recent: (await api.page("/me/checkins", { page_size: 10 })).items,
    }));
    const { m, run } = usePhotoCheckin({
      kind: "checkin",
      send: (body) => api.create("/me/checkins", body),
    });
    const runAndReload = async (files) => {
      await run(files[0]);
      reload();
    };
    return () =>
      screen("打卡", [
        loading(s),
        s.data ? checkinState(s.data.schedule) : null,
        h("p", "打卡只需拍一张本人照片,位置和时间自动获取。"),
        cameraInput("拍照打卡", "checkin", runAndReload, { capture: "user" }),
        notice(m.info),
        progress(m.progress),
        alert(m.error),
        m.last && m.error ? button("重试", () => run(null, m.last)) : null,
        checkinResult(m.result, m.reasons),
        s.data && s.data.recent.length
          ? h("section", { "aria-label": "最近打卡" }, [
              h("h2", "最近打卡"),
              h(
                "ul",
                { class: "list" },
                s.data.recent.map((c) =>
                  h("li", `${fmtTime(c.captured_at)} ${label("checkin_status", c.status)} ${c.outcome ? label("outcome", c.outcome) : ""}`),
                ),
              ),
            ])
          : null,
      ]);
  },
};

// 外出申请 and the other requests: the list with statuses, cancel, 销假
export const Requests = {
  setup() {
    const [list, load] = pagedList("/me/requests");
    const returning = ref(null);
    const cancel = async (r) => {
      if (!(await confirm("撤回申请", `确定撤回去${r.destination}的${label("request_type", r.type)}申请吗?`))) return;
      try {
        await api.post(`/me/requests/${r.id}/cancel`);
        toast("已撤回");
        load();
      } catch (err) {
        list.error = err.message;
      }
    };
    const ret = usePhotoCheckin({
      kind: "return",
      send: (body) => api.create(`/me/requests/${returning.value.id}/return`, body),
      after: (req, m) => {
        m.info = `销假已提交:${label("request_status", req.status)}`;
        returning.value = null;
        load();
      },
    });
    const item = (r) =>
      h("li", { class: "card", "aria-label": `${label("request_type", r.type)} ${r.destination} ${label("request_status", r.status)}` }, [
        h("p", [h("strong", `${label("request_type", r.type)}:${r.destination}`), ` ${label("request_status", r.status)}`]),
        h("p", `${r.start_date} 至 ${r.end_date},共 ${r.days} 天`),
        r.decision_note ? h("p", `审批意见:${r.decision_note}`) : null,
        ["pending", "recommended"].includes(r.status)
          ? h(V.Button, { size: "small", nativeType: "button", onClick: () => cancel(r) }, () => "撤回")
          : null,
        r.type === "leave" && ["approved", "overdue"].includes(r.status)
          ? h(V.Button, { size: "small", type: "primary", nativeType: "button", onClick: () => (returning.value = r) }, () => "销假")
          : null,
      ]);
    return () =>
      screen("外出申请", [
        button("新建申请", () => go("/requests/new")),
        returning.value
          ? h("section", { class: "card", "aria-label": "销假" }, [
              h("h2", `销假:${returning.value.destination}`),
              h("p", "回到执行地后,拍一张本人照片完成销假(即在家打卡)。"),
              cameraInput("拍照销假", "return", (files) => ret.run(files[0]), { capture: "user" }),
              h(V.Button, { size: "small", nativeType: "button", onClick: () => (returning.value = null) }, () => "取消"),
            ])
          : null,
        notice(ret.m.info),
        progress(ret.m.progress),
        alert(ret.m.error || list.error),
        h("ul", { class: "list", "aria-label": "我的申请" }, list.items.map(item)),
        list.loaded && !list.items.length ? h("p", "还没有申请") : null,
        loadMore(list.more, () => load(list.page + 1)),
      ]);
  },
};

function daysBetween(a, b) {
  return Math.round((new Date(b) - new Date(a)) / 86400000) + 1;
}

export const NewRequest = {
  setup() {
    const m = reactive({ type: "leave", destination: "", reason: "", start_date: "", end_date: "", business: false });
    const s = reactive({ error: "", info: "", busy: false });
    const submit = async (e) => {
      e.preventDefault();
      s.error = s.info = "";
      if (m.start_date && m.start_date < today()) return (s.error = "开始日期不能早于今天");
      if (m.start_date && m.end_date && m.end_date < m.start_date) return (s.error = "结束日期不能早于开始日期");
      if (m.type === "leave" && m.start_date && m.end_date && daysBetween(m.start_date, m.end_date) > 30)
        return (s.error = "外出每次不能超过 30 天");
      const body = { ...m, client_id: api.newId() };
      s.busy = true;
      try {
        if (!navigator.onLine) {
          await queue.add({ kind: "request", label: `${label("request_type", m.type)}申请`, body });
          s.info = "网络不可用:已保存,联网后自动发送";
          return;
        }
        await api.create("/me/requests", body);
        toast("申请已提交");
        history.back(); // to the list this form was opened from
      } catch (err) {
        if (err.offline) {
          await queue.add({ kind: "request", label: `${label("request_type", m.type)}申请`, body });
          s.info = "网络不可用:已保存,联网后自动发送";
        } else s.error = err.message;
      } finally {
        s.busy = false;
      }
    };
    return () =>
      screen("新建申请", [
        h("section", { class: "card rules", "aria-label": "申请须知" }, [
          h("h2", "申请须知"),
          h("ul", [
            h("li", "外出(请假)每次不超过 30 天,一年累计不超过 60 天(生产经营需要的除外)。"),
            h("li", "不能与已批准的外出时间重叠。"),
            h("li", "开始日期不能早于今天。"),
            h("li", "外出回来后请及时销假。"),
          ]),
        ]),
        h("form", { onSubmit: submit, "aria-label": "新建申请" }, [
          field("申请类型", m, "type", { options: Object.entries({ leave: "外出(请假)", visitor: "会客", residence_change: "执行地变更", restricted_place: "进入特定场所" }) }),
          field("目的地", m, "destination", { required: true, maxlength: 200 }),
          field("事由", m, "reason", { type: "textarea", required: true, maxlength: 1000 }),
          field("开始日期", m, "start_date", { type: "date", required: true }),
          field("结束日期", m, "end_date", { type: "date", required: true }),
          field("生产经营需要", m, "business", { type: "checkbox" }),
          alert(s.error),
          notice(s.info),
          h(V.Button, { type: "primary", block: true, nativeType: "submit", loading: s.busy }, () => "提交申请"),
        ]),
      ]);
  },
};

function trendChart(days) {
  // ECharts with its aria option (a description screen readers read) and the figures as text beside it
  return {
    setup() {
      const el = ref(null);
      let chart = null;
      onMounted(() => {
        chart = echarts.init(el.value, null, { renderer: "svg" });
        chart.setOption({
          aria: { enabled: true, label: { description: summary() } },
          grid: { left: 40, right: 12, top: 16, bottom: 28 },
          xAxis: { type: "category", data: days.map((d) => d.date.slice(5)) },
          yAxis: { type: "value", scale: true },
          series: [{ type: "line", data: days.map((d) => d.total), smooth: true }],
        });
      });
      onBeforeUnmount(() => chart && chart.dispose());
      const summary = () => {
        if (!days.length) return "暂无积分变化";
        const first = days[0];
        const last = days[days.length - 1];
        return `积分趋势:${first.date} ${first.total} 分,${last.date} ${last.total} 分`;
      };
      return () =>
        h("figure", { class: "chart" }, [
          h("div", { ref: el, class: "chart-box", role: "img", "aria-label": summary() }),
          h("figcaption", summary()),
        ]);
    },
  };
}

export const Score = {
  setup() {
    const since = new Date(Date.now() - 90 * 86400000).toISOString().slice(0, 10);
    const [s] = loader(async () => ({
      score: await api.get("/me/score"),
      history: await api.get("/me/score/history", { date_from: since }),
    }));
    const ev = reactive({ items: [], more: false, page: 1, error: "" });
    const loadEvents = async (p = 1) => {
      try {
        const r = await api.page("/me/score/events", { page: p, page_size: 20 });
        ev.items = p === 1 ? r.items : ev.items.concat(r.items);
        ev.more = r.more;
        ev.page = p;
      } catch (err) {
        ev.error = err.message;
      }
    };
    loadEvents();
    return () => {
      const sc = s.data && s.data.score;
      return screen("我的积分", [
        loading(s),
        sc ? scoreCard(sc) : null,
        sc
          ? h("section", { class: "card", "aria-label": "六个维度" }, [
              h("h2", "各项得分"),
              h(
                "ul",
                { class: "dims" },
                sc.dimension_details.map((d) => h("li", `${d.name}:${d.points} / ${d.max}`)),
              ),
            ])
          : null,
        s.data ? h(trendChart(s.data.history.days)) : null,
        h("section", { "aria-label": "积分记录" }, [
          h("h2", "积分记录"),
          alert(ev.error),
          h(
            "ul",
            { class: "list" },
            ev.items.map((e) =>
              h("li", { class: "card" }, [
                h("p", [h("strong", `${e.points > 0 ? "+" : ""}${e.points}`), ` ${e.rule_name}`]),
                h("p", `${fmtTime(e.occurred_at)}${e.expires_at ? `,${fmtTime(e.expires_at).slice(0, 10)} 到期` : ""}${e.status !== "active" ? `(${e.status === "revoked" ? "已撤销" : "已到期"})` : ""}`),
                e.status === "active"
                  ? h("a", { href: `#/appeal?event=${e.id}`, "aria-label": `申诉:${e.rule_name} ${e.points} 分` }, "申诉")
                  : null,
              ]),
            ),
          ),
          loadMore(ev.more, () => loadEvents(ev.page + 1)),
        ]),
      ]);
    };
  },
};

export const Messages = {
  setup() {
    const [list, load] = pagedList("/me/notifications");
    onWindow(NOTIFICATION_EVENT, () => load(1)); // a live notification (live.js): read the list again
    const read = async (n) => {
      if (n.read_at) return;
      try {
        const r = await api.post(`/me/notifications/${n.id}/read`);
        n.read_at = r.read_at || new Date().toISOString();
      } catch (err) {
        list.error = err.message;
      }
    };
    return () =>
      screen("消息", [
        alert(list.error),
        h(
          "ul",
          { class: "list", "aria-label": "消息列表" },
          list.items.map((n) =>
            h("li", { class: "card" + (n.read_at ? "" : " unread") }, [
              h(
                "button",
                { type: "button", class: "msg", "aria-label": `${n.read_at ? "" : "未读 "}${n.title}`, onClick: () => read(n) },
                [h("strong", n.title), n.read_at ? null : h("span", { class: "dot" }, " 未读")],
              ),
              h("p", n.body),
              h("p", { class: "time" }, fmtTime(n.created_at)),
            ]),
          ),
        ),
        list.loaded && !list.items.length ? h("p", "暂无消息") : null,
        loadMore(list.more, () => load(list.page + 1)),
      ]);
  },
};
