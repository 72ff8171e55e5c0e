// 学习 (online sessions kept alive by heartbeats while the page is visible; offline and 集中教育 with a photo)
// and 我要申诉 (appeal one score event, with evidence photos).
import * as api from "../api.js";
import * as ui from "../ui.js";
import { alert, cameraInput, field, fmtTime, go, h, label, loader, loading, loadMore, notice, pagedList, position, progress, reactive, screen, state } from "../ui.js";

const { onBeforeUnmount } = Vue;
const MODES = ui.LABELS.education_mode;

// seconds between heartbeats: 60 as the API asks; a test may shorten it (the server's counting rule stays)
function heartbeatSeconds() {
  return Number(localStorage.getItem("zhijiao.heartbeat_s")) || 60;
}

function localNow(offsetMin = 0) {
  const d = new Date(Date.now() + offsetMin * 60000 - new Date().getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

export const Study = {
  setup() {
    const [sum, reloadSum] = loader(() => api.get("/me/education/summary"));
    const s = reactive({ active: null, elapsed: 0, error: "", info: "", course: "在线学习", busy: false });
    let timer = null;
    let ticker = null;
    const beat = async (ended = false) => {
      if (!s.active) return;
      try {
        const r = await api.post(`/me/education-sessions/${s.active.id}/heartbeat`, { ended });
        s.active = r.status === "active" ? r : null;
        if (ended) {
          s.info = `本次学习已结束,计入 ${r.credited_minutes} 分钟`;
          stopTimers();
          reloadSum();
          loadHistory(1);
        }
      } catch (err) {
        s.error = err.message;
      }
    };
    const startTimers = () => {
      stopTimers();
      timer = setInterval(() => document.visibilityState === "visible" && beat(), heartbeatSeconds() * 1000);
      ticker = setInterval(() => (s.elapsed = Math.floor((Date.now() - new Date(s.active.started_at)) / 1000)), 1000);
    };
    const stopTimers = () => {
      clearInterval(timer);
      clearInterval(ticker);
    };
    const onVisible = () => document.visibilityState === "visible" && s.active && beat();
    document.addEventListener("visibilitychange", onVisible);
    onBeforeUnmount(() => {
      stopTimers();
      document.removeEventListener("visibilitychange", onVisible);
    });
    // a session left running (another visit) goes on with its heartbeats
    api
      .page("/me/education-sessions", { mode: "online", status: "active", page_size: 1 })
      .then((r) => {
        if (r.items.length) {
          s.active = r.items[0];
          startTimers();
        }
      })
      .catch(() => {});
    const start = async () => {
      s.error = s.info = "";
      s.busy = true;
      try {
        s.active = await api.create("/me/education-sessions", { mode: "online", course: s.course });
        await beat();
        startTimers();
        loadHistory(1);
      } catch (err) {
        s.error = err.message;
      } finally {
        s.busy = false;
      }
    };
    const [history, loadHistory] = pagedList("/me/education-sessions");
    // an offline / 集中教育 session: its photo (the camera's own file) through the upload flow, then the log.
    // A retry sends neither the photo nor the log twice: the upload's id and (unless the server refused the log)
    // the client_id are kept until it works.
    const off = reactive({ mode: "offline", course: "", started: localNow(-60), ended: localNow(), photo: null, upload: null,
      clientId: api.newId(), pos: null, progress: null, error: "", info: "", busy: false, retry: false });
    position()
      .then((p) => (off.pos = p))
      .catch(() => {}); // the photo's claim then has its time only
    const takePhoto = (files) => {
      off.photo = files[0];
      off.upload = null;
      off.retry = false;
    };
    const submitOffline = async (e) => {
      e.preventDefault();
      off.error = off.info = "";
      if (!off.photo) return (off.error = "请拍一张学习现场的照片");
      off.busy = true;
      try {
        if (!off.upload) off.upload = await api.upload(off.photo, "education", (f) => (off.progress = f));
        off.progress = null;
        const logged = await api.create("/me/education-sessions", {
          client_id: off.clientId,
          mode: off.mode,
          course: off.course,
          started_at: new Date(off.started).toISOString(),
          ended_at: new Date(off.ended).toISOString(),
          upload_id: off.upload.id,
          ...(off.pos ? { latitude: off.pos.latitude, longitude: off.pos.longitude } : {}),
        });
        off.info = `${MODES[logged.mode]}已登记(${logged.claimed_minutes} 分钟),待司法所确认后计入`;
        off.photo = off.upload = null;
        off.retry = false;
        off.course = "";
        off.clientId = api.newId();
        reloadSum();
        loadHistory(1);
      } catch (err) {
        off.progress = null;
        off.error = err.message;
        off.retry = true; // the button says 重试: the photo already sent is not sent again
        // refused (nothing was made): the corrected form is another create, so it gets another key
        if (err.status >= 400 && err.status < 500) off.clientId = api.newId();
      } finally {
        off.busy = false;
      }
    };
    const minutesOf = (x) => (x.mode === "online" ? x.credited_minutes : x.claimed_minutes);
    const mmss = (x) => `${Math.floor(x / 60)} 分 ${x % 60} 秒`;
    return () => {
      const m = sum.data;
      return screen("学习", [
        loading(sum),
        m
          ? h("section", { class: "card", "aria-label": "本月学习" }, [
              h("h2", `本月学习(${m.month})`),
              h("p", `已计入 ${m.counted_minutes} 分钟 / 要求 ${m.required_minutes} 分钟` + (m.pending_minutes ? `,待确认 ${m.pending_minutes} 分钟` : "")),
              h("p", m.met ? "本月已达标" : `还差 ${m.remaining_minutes} 分钟`),
              h("p", { class: "time" }, `每天最多计入 ${m.daily_cap_minutes} 分钟`),
            ])
          : null,
        h("section", { class: "card", "aria-label": "在线学习" }, [
          h("h2", "在线学习"),
          s.active
            ? [
                h("p", { role: "status" }, `学习中:${s.active.course},已学习 ${mmss(s.elapsed)}(服务器已记录 ${s.active.heartbeats} 次心跳)`),
                h(vant.Button, { type: "danger", block: true, nativeType: "button", onClick: () => beat(true) }, () => "结束学习"),
              ]
            : [
                field("课程", s, "course", { maxlength: 200 }),
                h(vant.Button, { type: "primary", block: true, nativeType: "button", loading: s.busy, onClick: start }, () => "开始学习"),
              ],
          h("p", { class: "time" }, "学习时请保持本页面打开,时长由服务器按心跳计算。"),
          alert(s.error),
          notice(s.info),
        ]),
        h("form", { class: "card", onSubmit: submitOffline, "aria-label": "线下学习登记" }, [
          h("h2", "线下学习 / 集中教育登记"),
          field("学习方式", off, "mode", { options: [["offline", MODES.offline], ["centralised", MODES.centralised]] }),
          field("学习内容", off, "course", { id: "f-off-course", required: true, maxlength: 200 }),
          field("开始时间", off, "started", { type: "datetime-local", required: true }),
          field("结束时间", off, "ended", { type: "datetime-local", required: true }),
          cameraInput("拍摄学习照片", "edu", takePhoto),
          h("p", off.photo ? "已拍照片 1 张" : "尚未拍照"),
          progress(off.progress),
          alert(off.error),
          notice(off.info),
          h(vant.Button, { type: "primary", block: true, nativeType: "submit", loading: off.busy }, () => (off.retry ? "重试" : "提交登记")),
        ]),
        h("section", { "aria-label": "我的学习记录" }, [
          h("h2", "我的学习记录"),
          alert(history.error),
          h(
            "ul",
            { class: "list" },
            history.items.map((x) =>
              h("li", { class: "card", "aria-label": `${MODES[x.mode]} ${x.course} ${label("education_status", x.status)}` }, [
                h("p", [h("strong", `${MODES[x.mode]}:${x.course}`), ` ${label("education_status", x.status)}`]),
                h("p", { class: "time" }, `${fmtTime(x.started_at)}${x.ended_at ? ` 至 ${fmtTime(x.ended_at).slice(11)}` : ""} · ${minutesOf(x) || 0} 分钟` + (x.upload_id ? " · 有照片" : "")),
                x.verification_note ? h("p", `审核意见:${x.verification_note}`) : null,
              ]),
            ),
          ),
          history.loaded && !history.items.length ? h("p", "还没有学习记录") : null,
          loadMore(history.more, () => loadHistory(history.page + 1)),
        ]),
      ]);
    };
  },
};

export const Appeal = {
  setup() {
    const eventId = Number(state.route.query.event);
    const [ev] = loader(async () => {
      const r = await api.page("/me/score/events", { page_size: 200 });
      return r.items.find((e) => e.id === eventId) || null;
    });
    const [mine, reload] = loader(async () => (await api.page("/me/appeals", { page_size: 50 })).items);
    const m = reactive({ reason: "", photos: [], progress: null, error: "", info: "" });
    const submit = async (e) => {
      e.preventDefault();
      m.error = m.info = "";
      try {
        const ids = [];
        for (const p of m.photos) ids.push((await api.upload(p, "appeal", (f) => (m.progress = f))).id);
        m.progress = null;
        await api.create("/me/appeals", { event_id: eventId, reason: m.reason, upload_ids: ids });
        m.info = "申诉已提交,等待司法所处理";
        m.reason = "";
        m.photos = [];
        reload();
      } catch (err) {
        m.progress = null;
        m.error = err.message;
      }
    };
    const STATUS = { pending: "处理中", upheld: "申诉成立", dismissed: "申诉未成立" };
    return () =>
      screen("我要申诉", [
        loading(ev),
        ev.data
          ? h("section", { class: "card", "aria-label": "申诉的积分记录" }, [
              h("p", [h("strong", `${ev.data.points > 0 ? "+" : ""}${ev.data.points}`), ` ${ev.data.rule_name}`]),
              h("p", { class: "time" }, fmtTime(ev.data.occurred_at)),
            ])
          : null,
        eventId
          ? h("form", { onSubmit: submit, "aria-label": "申诉" }, [
              field("申诉理由", m, "reason", { type: "textarea", required: true, maxlength: 1000 }),
              cameraInput("拍摄证明材料", "appeal", (files) => (m.photos = m.photos.concat(files).slice(0, 9)), { multiple: true }),
              h("p", `证明材料 ${m.photos.length} 张`),
              progress(m.progress),
              alert(m.error),
              notice(m.info),
              h(vant.Button, { type: "primary", block: true, nativeType: "submit" }, () => "提交申诉"),
            ])
          : h("p", ["要申诉某条积分记录,请在", h("a", { href: "#/score", onClick: (e) => (e.preventDefault(), go("/score")) }, "我的积分"), "中点该记录的“申诉”。"]),
        h("section", { "aria-label": "我的申诉" }, [
          h("h2", "我的申诉"),
          alert(mine.error),
          h(
            "ul",
            { class: "list" },
            (mine.data || []).map((a) =>
              h("li", { class: "card" }, [h("p", `${STATUS[a.status] || a.status}:${a.reason}`), a.note ? h("p", `处理意见:${a.note}`) : null, h("p", { class: "time" }, fmtTime(a.created_at))]),
            ),
          ),
          mine.data && !mine.data.length ? h("p", "还没有申诉") : null,
        ]),
      ]);
  },
};
