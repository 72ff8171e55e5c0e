// 公益活动 (a service report with photos, queued offline like every create), 我要加分 (a merit application with
// evidence) and 我的权益 (the benefits of my grade and the city conversions).
import * as api from "../api.js";
import * as queue from "../queue.js";
import { alert, cameraInput, field, fmtTime, h, loader, loading, notice, position, progress, reactive, screen } from "../ui.js";

function localNow(offsetMin = 0) {
  const d = new Date(Date.now() + offsetMin * 60000 - new Date().getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

const REVIEW = { pending: "待确认", verified: "已确认", rejected: "未通过", approved: "已批准" };

async function uploadAll(photos, purpose, onProgress) {
  const ids = [];
  for (const p of photos) ids.push((await api.upload(p, purpose, onProgress)).id);
  onProgress(null);
  return ids;
}

export const Service = {
  setup() {
    const [mine, reload] = loader(async () => (await api.page("/me/service-reports", { page_size: 20 })).items);
    const m = reactive({
      activity_type: "",
      place: "",
      started: localNow(-120),
      ended: localNow(),
      hours: "2",
      organisation: "",
      witness_name: "",
      witness_phone: "",
      description: "",
    });
    const s = reactive({ photos: [], pos: null, progress: null, error: "", info: "" });
    position()
      .then((p) => (s.pos = p))
      .catch(() => {});
    const submit = async (e) => {
      e.preventDefault();
      s.error = s.info = "";
      if (!s.photos.length) return (s.error = "请至少拍一张活动照片");
      if (!m.organisation && !m.witness_name) return (s.error = "请填写组织单位或证明人");
      const body = {
        activity_type: m.activity_type,
        place: m.place,
        started_at: new Date(m.started).toISOString(),
        ended_at: new Date(m.ended).toISOString(),
        hours: Number(m.hours),
        organisation: m.organisation || null,
        witness_name: m.witness_name || null,
        witness_phone: m.witness_phone || null,
        description: m.description || null,
        ...(s.pos ? { latitude: s.pos.latitude, longitude: s.pos.longitude } : {}),
      };
      const queueIt = async () => {
        await queue.add({ kind: "service", label: "公益活动", body, photos: s.photos, purpose: "service", photoField: "upload_ids" });
        s.info = "网络不可用:已保存,联网后自动发送";
        s.photos = [];
      };
      try {
        if (!navigator.onLine) return await queueIt();
        const ids = await uploadAll(s.photos, "service", (f) => (s.progress = f));
        await api.create("/me/service-reports", { ...body, upload_ids: ids });
        s.info = "已提交,待司法所确认";
        s.photos = [];
        reload();
      } catch (err) {
        s.progress = null;
        if (err.offline) await queueIt();
        else s.error = err.message;
      }
    };
    return () =>
      screen("公益活动", [
        h("form", { onSubmit: submit, "aria-label": "公益活动上报" }, [
          field("活动内容", m, "activity_type", { required: true, maxlength: 40 }),
          field("地点", m, "place", { required: true, maxlength: 200 }),
          field("开始时间", m, "started", { type: "datetime-local", required: true }),
          field("结束时间", m, "ended", { type: "datetime-local", required: true }),
          field("时长(小时)", m, "hours", { type: "number", min: "0.5", max: "24", step: "0.5", required: true }),
          field("组织单位", m, "organisation", { maxlength: 200 }),
          field("证明人", m, "witness_name", { maxlength: 100 }),
          field("证明人电话", m, "witness_phone", { type: "tel", maxlength: 20 }),
          field("说明", m, "description", { type: "textarea", maxlength: 2000 }),
          cameraInput("拍摄活动照片", "service", (files) => (s.photos = s.photos.concat(files).slice(0, 9)), { multiple: true }),
          h("p", `已拍 ${s.photos.length} 张照片`),
          progress(s.progress),
          alert(s.error),
          notice(s.info),
          h(vant.Button, { type: "primary", block: true, nativeType: "submit" }, () => "提交"),
        ]),
        h("section", { "aria-label": "我的公益活动" }, [
          h("h2", "我的公益活动"),
          loading(mine),
          h(
            "ul",
            { class: "list" },
            (mine.data || []).map((r) =>
              h("li", { class: "card" }, [
                h("p", [h("strong", r.activity_type), ` ${REVIEW[r.status] || r.status}`]),
                h("p", `${r.place},${Math.round((r.minutes / 60) * 10) / 10} 小时`),
                h("p", { class: "time" }, fmtTime(r.started_at)),
              ]),
            ),
          ),
        ]),
      ]);
  },
};

export const Merit = {
  setup() {
    const [types] = loader(() => api.get("/me/merit-types"));
    const [mine, reload] = loader(async () => (await api.page("/me/merit-applications", { page_size: 20 })).items);
    const m = reactive({ merit_type: "", description: "", occurred_on: "" });
    const s = reactive({ photos: [], progress: null, error: "", info: "" });
    const submit = async (e) => {
      e.preventDefault();
      s.error = s.info = "";
      try {
        const ids = await uploadAll(s.photos, "merit", (f) => (s.progress = f));
        await api.create("/me/merit-applications", { ...m, upload_ids: ids });
        s.info = "已提交,等待审核";
        s.photos = [];
        m.description = "";
        reload();
      } catch (err) {
        s.progress = null;
        s.error = err.message;
      }
    };
    const typeName = (code) => ((types.data || []).find((t) => t.code === code) || {}).name || code;
    return () =>
      screen("我要加分", [
        loading(types),
        h("form", { onSubmit: submit, "aria-label": "加分申请" }, [
          field("加分事项", m, "merit_type", {
            required: true,
            options: [["", "请选择"], ...(types.data || []).map((t) => [t.code, `${t.name}(+${t.points} 分)`])],
          }),
          field("事情经过", m, "description", { type: "textarea", required: true, maxlength: 1000 }),
          field("发生日期", m, "occurred_on", { type: "date", required: true }),
          cameraInput("拍摄证明材料", "merit", (files) => (s.photos = s.photos.concat(files).slice(0, 9)), { multiple: true }),
          h("p", `证明材料 ${s.photos.length} 张`),
          progress(s.progress),
          alert(s.error),
          notice(s.info),
          h(vant.Button, { type: "primary", block: true, nativeType: "submit" }, () => "提交申请"),
        ]),
        h("section", { "aria-label": "我的加分申请" }, [
          h("h2", "我的加分申请"),
          alert(mine.error),
          h(
            "ul",
            { class: "list" },
            (mine.data || []).map((a) =>
              h("li", { class: "card" }, [
                h("p", [h("strong", typeName(a.merit_type)), ` ${REVIEW[a.status] || a.status}`]),
                h("p", a.description),
                a.note ? h("p", `审核意见:${a.note}`) : null,
              ]),
            ),
          ),
        ]),
      ]);
  },
};

export const Rights = {
  setup() {
    const [sc] = loader(() => api.get("/me/score"));
    return () => {
      const d = sc.data;
      return screen("我的权益", [
        loading(sc),
        d
          ? h("section", { class: "card", "aria-label": "我的等级" }, [
              h("p", [`${d.total} 分 `, h("span", { class: "grade", style: { background: d.colour } }, d.grade_name)]),
            ])
          : null,
        d
          ? h("section", { "aria-label": "本等级的权益" }, [
              h("h2", "本等级的权益"),
              d.benefits.length
                ? h("ul", { class: "list" }, d.benefits.map((b) => h("li", { class: "card" }, [h("strong", b.name), h("p", b.description)])))
                : h("p", "本等级暂无激励措施"),
            ])
          : null,
        d && d.city_conversions.length
          ? h("section", { "aria-label": "信用分折算" }, [
              h("h2", "各地信用分折算"),
              h(
                "ul",
                { class: "list" },
                d.city_conversions.map((c) => h("li", { class: "card" }, `${c.city} ${c.name}:按 ${c.percent}% 折算 ${c.points} 分(上限 ${c.max_points} 分)`)),
              ),
            ])
          : null,
      ]);
    };
  },
};
