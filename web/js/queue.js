// The offline queue: creates made without a network wait here (IndexedDB, photos as Blobs) and are sent when
// the browser fires `online` — a subject's through POST /me/sync, a grid worker's field report through its own
// create — each exactly once: every item keeps its client_id, and an uploaded photo's id is saved on the item
// before the create is sent, so a retry neither uploads the photo again nor creates twice.
import * as api from "./api.js";

const DB = "zhijiao";
const STORE = "outbox";
const listeners = new Set();
let flushing = null;
// a grid worker's creates go to their own endpoints (a subject's through /me/sync)
const DIRECT = { field: "/grid/field-reports", grid_service: "/grid/service-reports" };

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const out = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(out && "result" in out ? out.result : undefined);
    t.onerror = () => reject(t.error);
  });
}

export const all = () => tx("readonly", (s) => s.getAll());
// the items of whoever is logged in on this phone now
export const mine = async () => (await all()).filter((i) => i.user === (api.session() || {}).user?.id);
const put = (item) => tx("readwrite", (s) => s.put(item));
const remove = (id) => tx("readwrite", (s) => s.delete(id));

async function changed() {
  const items = await mine();
  listeners.forEach((fn) => fn(items));
}

export function onChange(fn) {
  listeners.add(fn);
  changed();
}

// kind: checkin | return | request | service (subject, via /me/sync) or field | grid_service (grid worker);
// photos: Blobs uploaded with `purpose` before the create; `photoField` names where their ids go
export async function add({ kind, label, body, photos = [], purpose, photoField, requestId }) {
  const item = {
    user: (api.session() || {}).user?.id, // sent only under the login that made it
    kind,
    label,
    body: { ...body, client_id: body.client_id || api.newId() },
    photos: Array.from(photos), // a plain array: IndexedDB cannot clone a Vue proxy
    uploadIds: [],
    purpose,
    photoField,
    requestId,
    state: "waiting",
    error: "",
    created_at: new Date().toISOString(),
  };
  await put(item);
  await changed();
  if (navigator.onLine) flush();
  return item;
}

// Add and, when online, send at once: null when sent (or waiting for the network), else the refusal's message
// (the item is then dropped: the form that made it shows the message and keeps its fields)
export async function submit(entry) {
  const item = await add(entry);
  if (!navigator.onLine) return null;
  await flush();
  const left = (await all()).find((i) => i.body.client_id === item.body.client_id);
  if (left && left.state === "failed") {
    await discard(left.id);
    return left.error;
  }
  return null;
}

export async function discard(id) {
  await remove(id);
  await changed();
}

function withPhotos(item) {
  const body = { ...item.body };
  if (item.photoField === "upload_id") body.upload_id = item.uploadIds[0];
  else if (item.photoField) body[item.photoField] = item.uploadIds;
  return body;
}

async function uploadPhotos(item) {
  while (item.uploadIds.length < item.photos.length) {
    const done = await api.upload(item.photos[item.uploadIds.length], item.purpose);
    item.uploadIds.push(done.id);
    await put(item);
  }
}

async function sendOne(item) {
  await uploadPhotos(item);
  if (DIRECT[item.kind]) {
    await api.create(DIRECT[item.kind], withPhotos(item));
    return null;
  }
  const entry = { kind: item.kind, body: withPhotos(item) };
  if (item.requestId) entry.request_id = item.requestId;
  const { results } = await api.post("/me/sync", { items: [entry] });
  const r = results[0];
  return r.status >= 400 ? (r.error && r.error.message) || "提交失败" : null;
}

// Send every waiting item in order; stops at the first network failure (the rest wait for `online`).
export function flush() {
  if (!flushing) {
    flushing = (async () => {
      await changed();
      for (const item of await all()) {
        const s = api.session();
        if (item.state === "failed" || !s || s.user.id !== item.user) continue;
        try {
          const refused = await sendOne(item);
          if (refused) {
            item.state = "failed";
            item.error = refused;
            await put(item);
          } else {
            await remove(item.id);
          }
        } catch (err) {
          if (err.offline) break;
          if (err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 429) {
            item.state = "failed";
            item.error = err.message;
            await put(item);
          } else break;
        } finally {
          await changed();
        }
      }
    })().finally(() => {
      flushing = null;
    });
  }
  return flushing;
}

window.addEventListener("online", () => flush());
