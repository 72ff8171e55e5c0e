// Small building blocks of the screens, written with Vue's render function h (no template compiler: the CSP
// forbids 'unsafe-eval'). Vant's components come from its browser build (global `vant`).
import * as api from "./api.js";
import * as queue from "./queue.js";

const { h, ref, reactive } = Vue;
export { h, ref, reactive };
export const V = vant;

export const state = reactive({ route: { path: "/", query: {} }, queued: [], user: null });
queue.onChange((items) => {
  state.queued = items;
});

export function go(path) {
  location.hash = "#" + path;
}

// The window event live.js dispatches for each notification that arrives (event.detail: the notification)
export const NOTIFICATION_EVENT = "zhijiao:notification";

// Listen to a window event while the calling screen is mounted (call it in setup; removed on unmount)
export function onWindow(name, fn) {
  window.addEventListener(name, fn);
  Vue.onBeforeUnmount(() => window.removeEventListener(name, fn));
}

// A screen: a header with 返回 (browser history) and the title, the offline queue's state, then the body.
export function screen(title, children, { back = true } = {}) {
  return h("div", { class: "screen" }, [
    h("header", { class: "bar" }, [
      back ? h("button", { class: "back", type: "button", onClick: () => history.back() }, "返回") : null,
      h("h1", title),
    ]),
    queueBanner(),
    h("main", { class: "body" }, children),
  ]);
}

export function queueBanner() {
  const items = state.queued;
  if (!items.length) return null;
  const waiting = items.filter((i) => i.state !== "failed");
  const failed = items.filter((i) => i.state === "failed");
  return h("section", { class: "queue", role: "status", "aria-live": "polite" }, [
    waiting.length ? h("p", `${waiting.length} 条待发送` + (navigator.onLine ? "(发送中)" : "(联网后自动发送)")) : null,
    ...failed.map((i) =>
      h("p", { class: "failed" }, [
        `未能发送:${i.label}:${i.error} `,
        h("button", { type: "button", onClick: () => queue.discard(i.id) }, "删除"),
      ]),
    ),
  ]);
}

// A labelled native input (date inputs stay native: typing YYYY-MM-DD works); attrs.id when two forms of one
// screen share a key
export function field(label, model, key, attrs = {}) {
  const id = attrs.id || "f-" + key;
  const tag = attrs.type === "textarea" ? "textarea" : attrs.options ? "select" : "input";
  const { options, ...rest } = attrs;
  const props = {
    id,
    name: key,
    value: model[key],
    onInput: (e) => {
      model[key] = e.target.type === "checkbox" ? e.target.checked : e.target.value;
    },
    onChange: (e) => {
      model[key] = e.target.type === "checkbox" ? e.target.checked : e.target.value;
    },
    ...rest,
  };
  if (tag === "textarea") delete props.type;
  if (rest.type === "checkbox") props.checked = Boolean(model[key]);
  const control =
    tag === "select"
      ? h(
          "select",
          props,
          options.map(([v, text]) => h("option", { value: v, selected: model[key] === v }, text)),
        )
      : h(tag, props);
  return h("div", { class: "field" + (rest.type === "checkbox" ? " check" : "") }, [h("label", { for: id }, label), control]);
}

export function alert(msg) {
  return msg ? h("p", { class: "error", role: "alert" }, msg) : null;
}

export function notice(msg) {
  return msg ? h("p", { class: "notice", role: "status" }, msg) : null;
}

export function button(text, onClick, attrs = {}) {
  return h(V.Button, { type: "primary", block: true, nativeType: "button", onClick, ...attrs }, () => text);
}

// A labelled camera input: <input type=file accept=image/* capture> keeps the camera's EXIF
export function cameraInput(label, key, onFiles, { multiple = false, capture = "environment" } = {}) {
  const id = "cam-" + key;
  return h("div", { class: "camera" }, [
    h("label", { for: id, class: "van-button van-button--primary van-button--normal van-button--block" }, label),
    h("input", {
      id,
      type: "file",
      accept: "image/*",
      capture,
      multiple,
      class: "visually-hidden",
      onChange: (e) => {
        const files = [...e.target.files];
        e.target.value = "";
        if (files.length) onFiles(files);
      },
    }),
  ]);
}

export function progress(fraction) {
  if (fraction === null || fraction === undefined) return null;
  const pct = Math.round(fraction * 100);
  return h("div", { role: "progressbar", "aria-label": "上传进度", "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100 }, [
    h(V.Progress, { percentage: pct }),
  ]);
}

export function loadMore(more, onClick) {
  return more ? h(V.Button, { block: true, plain: true, nativeType: "button", onClick }, () => "加载更多") : null;
}

// A real confirm dialog (role dialog) with 确定 / 取消; resolves true on 确定
export async function confirm(title, message) {
  try {
    await V.showConfirmDialog({ title, message, confirmButtonText: "确定", cancelButtonText: "取消" });
    return true;
  } catch {
    return false;
  }
}

// A passing message: a status (read out politely), not a dialog, so it never stands in for a confirm dialog
// (Vant's popup says role=dialog unless told otherwise)
export function toast(msg) {
  V.showToast({ message: msg, duration: 2500, role: "status", "aria-live": "polite" });
}

const pad = (n) => String(n).padStart(2, "0");
export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
export function today() {
  const d = new Date();
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

// The position now, with its accuracy (the Geolocation API); rejects with a Chinese message
export function position() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) return reject(new Error("此浏览器不能定位"));
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ latitude: p.coords.latitude, longitude: p.coords.longitude, accuracy_m: p.coords.accuracy }),
      (e) => reject(new Error(e.code === 1 ? "请允许使用位置信息后重试" : "暂时无法定位,请到开阔处重试")),
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 },
    );
  });
}

// A page's data: {loading, error, data} and a reload function
export function loader(fn) {
  const s = reactive({ loading: true, error: "", data: null });
  const load = async () => {
    s.loading = true;
    s.error = "";
    try {
      s.data = await fn();
    } catch (err) {
      s.error = err.message;
    } finally {
      s.loading = false;
    }
  };
  load();
  return [s, load];
}

export function loading(s) {
  if (s.loading && !s.data) return h(V.Loading, { "aria-label": "加载中" }, () => "加载中…");
  return alert(s.error);
}

export const LABELS = {
  request_type: { leave: "外出(请假)", visitor: "会客", residence_change: "执行地变更", restricted_place: "进入特定场所" },
  request_status: {
    pending: "待审批",
    recommended: "已呈报县局",
    approved: "已批准",
    rejected: "未批准",
    cancelled: "已撤回",
    revoked: "已撤销",
    returned: "已销假",
    completed: "已完成",
    overdue: "逾期未销假",
  },
  outcome: { on_time: "按时", late: "迟到", extra: "额外打卡" },
  checkin_status: { pending: "核验中", counted: "已计入", invalid: "无效" },
  field_status: { new: "新上报", pending_review: "待审核", recorded: "已记录", confirmed: "已确认", dismissed: "未采纳" },
  severity: { high: "严重", medium: "一般", low: "轻微" },
  education_mode: { online: "在线学习", offline: "线下学习", centralised: "集中教育" },
  education_status: { active: "学习中", ended: "已结束", pending: "待确认", verified: "已确认", rejected: "未通过" },
  service_status: { pending: "待确认", verified: "已确认", rejected: "未通过" },
};
export const label = (kind, v) => (LABELS[kind] && LABELS[kind][v]) || v || "";

// A list read page by page (20 at a time); load(1) reads it again, load(page + 1) appends the next page.
export function pagedList(path) {
  const list = reactive({ items: [], more: false, page: 1, error: "", loaded: false });
  const load = async (p = 1) => {
    try {
      const r = await api.page(path, { page: p, page_size: 20 });
      list.items = p === 1 ? r.items : list.items.concat(r.items);
      list.more = r.more;
      list.page = p;
      list.error = "";
      list.loaded = true;
    } catch (err) {
      list.error = err.message;
    }
  };
  load();
  return [list, load];
}
