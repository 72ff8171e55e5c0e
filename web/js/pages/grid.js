// The grid worker's app: the subjects of my grids, a field report (queued like every create), my reports, and
// 公益活动见证 (community service observed in the field) with the list of what I observed.
import * as api from "../api.js";
import * as queue from "../queue.js";
import { alert, cameraInput, field, fmtTime, go, h, label, loadMore, notice, pagedList, position, reactive, screen, state } from "../ui.js";

// The service I observed (GET /grid/service-reports): my reports and the subjects' reports I witnessed
function observedSection(list, load) {
  return h("section", { "aria-label": "我见证的公益活动" }, [
    h("h2", "我见证的公益活动"),
    alert(list.error),
    h(
      "ul",
      { class: "list" },
      list.items.map((r) =>
        h("li", { class: "card", "aria-label": `${r.subject_name} ${r.activity_type} ${label("service_status", r.status)}` }, [
          h("p", [h("strong", r.subject_name), ` ${r.activity_type} ${label("service_status", r.status)}`]),
          h("p", `${r.place},${Math.round((r.minutes / 60) * 10) / 10} 小时` + (r.source === "subject" ? "(对象自报,我为见证人)" : "")),
          h("p", { class: "time" }, fmtTime(r.started_at)),
          r.verification_note ? h("p", `核实意见:${r.verification_note}`) : null,
        ]),
      ),
    ),
    list.loaded && !list.items.length ? h("p", "还没有见证记录") : null,
    loadMore(list.more, () => load(list.page + 1)),
  ]);
}

export const GridHome = {
  setup() {
    const [list, load] = pagedList("/grid/subjects");
    return () =>
      screen(
        "网格员 · 我的对象",
        [
          h("p", `您好,${state.user.display_name}`),
          h("nav", { class: "menu", "aria-label": "功能" }, [
            h("a", { href: "#/grid/report", class: "tile" }, "走访上报"),
            h("a", { href: "#/grid/reports", class: "tile" }, "我的上报"),
            h("a", { href: "#/grid/service", class: "tile" }, "公益活动见证"),
            h("a", { href: "#/mine", class: "tile" }, "我的"),
          ]),
          alert(list.error),
          h(
            "ul",
            { class: "list", "aria-label": "我的网格的对象" },
            list.items.map((s) =>
              h("li", [
                h(
                  "a",
                  { href: `#/grid/report?subject=${s.id}`, class: "card row", "aria-label": `为${s.name}上报` },
                  `${s.name}(${s.gender === "male" ? "男" : "女"})`,
                ),
              ]),
            ),
          ),
          loadMore(list.more, () => load(list.page + 1)),
        ],
        { back: false },
      );
  },
};

// the local date-time input value of now, offset by minutes
function localNow(offsetMin = 0) {
  const d = new Date(Date.now() + offsetMin * 60000 - new Date().getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

export const FieldReport = {
  setup() {
    const [subjects] = pagedList("/grid/subjects");
    const m = reactive({ subject_id: state.route.query.subject || "", text: "", tags: "", observed: localNow() });
    const s = reactive({ photos: [], pos: null, error: "", info: "", busy: false });
    position()
      .then((p) => (s.pos = p))
      .catch((err) => (s.info = err.message + "(上报仍可提交,不带位置)"));
    const submit = async (e) => {
      e.preventDefault();
      s.error = s.info = "";
      if (!m.subject_id) return (s.error = "请选择对象");
      if (!s.photos.length) return (s.error = "请至少拍一张照片");
      const body = {
        subject_id: Number(m.subject_id),
        text: m.text,
        tags: m.tags.split(/[,,\s]+/).filter(Boolean),
        observed_at: new Date(m.observed).toISOString(),
        ...(s.pos ? { latitude: s.pos.latitude, longitude: s.pos.longitude } : {}),
      };
      s.busy = true;
      try {
        const subject = subjects.items.find((x) => x.id === body.subject_id);
        const refused = await queue.submit({
          kind: "field",
          label: `走访上报(${subject ? subject.name : body.subject_id})`,
          body,
          photos: s.photos,
          purpose: "field",
          photoField: "upload_ids",
        });
        if (refused) s.error = refused;
        else if (navigator.onLine) go("/grid/reports");
        else {
          s.info = "网络不可用:已保存,联网后自动发送";
          s.photos = [];
          m.text = m.tags = "";
        }
      } catch (err) {
        s.error = err.message;
      } finally {
        s.busy = false;
      }
    };
    return () =>
      screen("走访上报", [
        h("form", { onSubmit: submit, "aria-label": "走访上报" }, [
          field("对象", m, "subject_id", {
            options: [["", "请选择"], ...subjects.items.map((x) => [String(x.id), x.name])],
            required: true,
          }),
          field("情况描述", m, "text", { type: "textarea", required: true, maxlength: 2000 }),
          field("标签(用逗号分隔)", m, "tags"),
          field("观察时间", m, "observed", { type: "datetime-local", required: true }),
          h("p", s.pos ? `位置:${s.pos.latitude.toFixed(5)}, ${s.pos.longitude.toFixed(5)}(精度 ±${Math.round(s.pos.accuracy_m)} 米)` : "位置:正在定位…"),
          cameraInput("拍照", "field", (files) => (s.photos = s.photos.concat(files).slice(0, 9)), { multiple: true }),
          h("p", `已拍 ${s.photos.length} 张照片`),
          alert(s.error),
          notice(s.info),
          h(vant.Button, { type: "primary", block: true, nativeType: "submit", loading: s.busy }, () => "提交上报"),
        ]),
      ]);
  },
};

export const MyReports = {
  setup() {
    const [list, load] = pagedList("/grid/field-reports");
    const [observed, loadObserved] = pagedList("/grid/service-reports");
    return () =>
      screen("我的上报", [
        h("h2", "走访上报"),
        alert(list.error),
        h(
          "ul",
          { class: "list", "aria-label": "我的上报" },
          list.items.map((r) =>
            h("li", { class: "card" }, [
              h("p", [h("strong", r.subject_name), ` ${label("field_status", r.status)}`]),
              h("p", r.text),
              h(
                "p",
                { class: "time" },
                `${fmtTime(r.observed_at)} · ${r.polarity === "negative" ? "负面" : r.polarity === "positive" ? "正面" : "中性"}` +
                  (r.severity ? ` · ${label("severity", r.severity)}` : "") +
                  (r.categories.length ? ` · ${r.categories.join("、")}` : ""),
              ),
            ]),
          ),
        ),
        list.loaded && !list.items.length ? h("p", "还没有上报") : null,
        loadMore(list.more, () => load(list.page + 1)),
        observedSection(observed, loadObserved),
      ]);
  },
};

// 公益活动见证: community service the grid worker saw a subject do (queued offline like every create)
export const ObservedService = {
  setup() {
    const [subjects] = pagedList("/grid/subjects");
    const m = reactive({
      subject_id: "",
      activity_type: "",
      place: "",
      started: localNow(-120),
      ended: localNow(),
      hours: "2",
      organisation: "",
      description: "",
    });
    const s = reactive({ photos: [], pos: null, error: "", info: "" });
    const [observed, loadObserved] = pagedList("/grid/service-reports");
    position()
      .then((p) => (s.pos = p))
      .catch(() => {});
    const submit = async (e) => {
      e.preventDefault();
      s.error = s.info = "";
      const body = {
        subject_id: Number(m.subject_id),
        activity_type: m.activity_type,
        place: m.place,
        started_at: new Date(m.started).toISOString(),
        ended_at: new Date(m.ended).toISOString(),
        hours: Number(m.hours),
        organisation: m.organisation || null,
        description: m.description || null,
        ...(s.pos ? { latitude: s.pos.latitude, longitude: s.pos.longitude } : {}),
      };
      const subject = subjects.items.find((x) => x.id === body.subject_id);
      try {
        const refused = await queue.submit({
          kind: "grid_service",
          label: `公益活动见证(${subject ? subject.name : body.subject_id})`,
          body,
          photos: s.photos,
          purpose: "service",
          photoField: "upload_ids",
        });
        if (refused) return (s.error = refused);
        s.info = navigator.onLine ? "已提交" : "网络不可用:已保存,联网后自动发送";
        s.photos = [];
        if (navigator.onLine) loadObserved(1);
      } catch (err) {
        s.error = err.message;
      }
    };
    return () =>
      screen("公益活动见证", [
        h("form", { onSubmit: submit, "aria-label": "公益活动见证" }, [
          field("对象", m, "subject_id", {
            options: [["", "请选择"], ...subjects.items.map((x) => [String(x.id), x.name])],
            required: true,
          }),
          field("活动内容", m, "activity_type", { required: true, maxlength: 40 }),
          field("地点", m, "place", { required: true, maxlength: 200 }),
          field("开始时间", m, "started", { type: "datetime-local", required: true }),
          field("结束时间", m, "ended", { type: "datetime-local", required: true }),
          field("时长(小时)", m, "hours", { type: "number", min: "0.5", max: "24", step: "0.5", required: true }),
          field("组织单位", m, "organisation", { maxlength: 200 }),
          field("说明", m, "description", { type: "textarea", maxlength: 2000 }),
          cameraInput("拍照", "gsvc", (files) => (s.photos = s.photos.concat(files).slice(0, 9)), { multiple: true }),
          h("p", `已拍 ${s.photos.length} 张照片`),
          alert(s.error),
          notice(s.info),
          h(vant.Button, { type: "primary", block: true, nativeType: "submit" }, () => "提交"),
        ]),
        observedSection(observed, loadObserved),
      ]);
  },
};
