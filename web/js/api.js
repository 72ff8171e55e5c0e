// The one API client of the app: every page talks to the server through this module, never with fetch itself.
// - access token refreshed with the rotating refresh token (one refresh at a time); a refused refresh
//   (reuse revoked the login, or it expired) logs the user out
// - every create carries a client_id and the same Idempotency-Key, so a retry never creates twice
// - every error body becomes an ApiError whose .message is the server's Chinese message
const BASE = "/api/v1";
const KEY = "zhijiao.session";
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || (status === 0 ? "网络不可用,请稍后再试" : `请求失败(${status})`));
    this.status = status;
    this.code = (body && body.code) || (status === 0 ? "OFFLINE" : "HTTP_" + status);
    this.errors = (body && body.errors) || {};
    this.detail = (body && body.detail) || {};
  }
  get offline() {
    return this.status === 0;
  }
  // the first field message, if any, for a form to show beside its field
  fieldMessage(field) {
    const m = this.errors[field];
    return Array.isArray(m) ? m.join(";") : m || "";
  }
}

export function newId() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function deviceId() {
  let id = localStorage.getItem("zhijiao.device");
  if (!id) localStorage.setItem("zhijiao.device", (id = newId()));
  return id;
}

export function session() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || "null");
  } catch {
    return null;
  }
}

function saveSession(tokens) {
  const s = { access: tokens.access_token, refresh: tokens.refresh_token, user: tokens.user };
  localStorage.setItem(KEY, JSON.stringify(s));
  return s;
}

function dropSession(reason) {
  localStorage.removeItem(KEY);
  listeners.forEach((fn) => fn(reason));
}

// fn(reason) is called when the session ends (logout, or the server revoked it)
export function onLogout(fn) {
  listeners.add(fn);
}

async function raw(method, path, { body, headers = {}, token } = {}) {
  const h = { Accept: "application/json", ...headers };
  if (body !== undefined) h["Content-Type"] = "application/json";
  if (token) h.Authorization = "Bearer " + token;
  let resp;
  try {
    resp = await fetch(BASE + path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, null);
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return { data, headers: resp.headers, status: resp.status };
}

let refreshing = null;
async function refresh() {
  const s = session();
  if (!s) throw new ApiError(401, { code: "UNAUTHENTICATED", message: "请先登录" });
  if (!refreshing) {
    refreshing = raw("POST", "/auth/refresh", { body: { refresh_token: s.refresh, device_id: deviceId() } })
      .then(({ data }) => saveSession(data))
      .catch((err) => {
        if (err.status === 401) dropSession(err.code === "REFRESH_TOKEN_REUSED" ? "revoked" : "expired");
        throw err;
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

// An authorised call: refreshes once and retries when the access token has expired.
export async function call(method, path, opts = {}) {
  const s = session();
  if (!s) throw new ApiError(401, { code: "UNAUTHENTICATED", message: "请先登录" });
  try {
    return await raw(method, path, { ...opts, token: s.access });
  } catch (err) {
    if (err.status !== 401 || err.code !== "TOKEN_INVALID") throw err;
    const fresh = await refresh();
    return raw(method, path, { ...opts, token: fresh.access });
  }
}

// An authorised fetch whose Response is handed back unread (a streamed body: the live notifications), with
// the token refreshed once like call()'s; an error status becomes an ApiError.
export async function openStream(path, { headers = {}, signal } = {}) {
  const s = session();
  if (!s) throw new ApiError(401, { code: "UNAUTHENTICATED", message: "请先登录" });
  const attempt = async (token) => {
    let resp;
    try {
      resp = await fetch(BASE + path, {
        headers: { Accept: "text/event-stream", ...headers, Authorization: "Bearer " + token },
        credentials: "omit",
        cache: "no-store",
        signal,
      });
    } catch (err) {
      if (signal && signal.aborted) throw err;
      throw new ApiError(0, null);
    }
    if (resp.ok) return resp;
    const body = await resp.json().catch(() => null);
    throw new ApiError(resp.status, body);
  };
  try {
    return await attempt(s.access);
  } catch (err) {
    if (err.status !== 401 || err.code !== "TOKEN_INVALID") throw err;
    const fresh = await refresh();
    return attempt(fresh.access);
  }
}

function query(params) {
  const q = new URLSearchParams();
  Object.entries(params || {}).forEach(([k, v]) => v !== undefined && v !== null && v !== "" && q.set(k, v));
  const s = q.toString();
  return s ? "?" + s : "";
}

export async function get(path, params) {
  return (await call("GET", path + query(params))).data;
}

// A page of a list and whether more follow (the server's X-Pagination header)
export async function page(path, params = {}) {
  const r = await call("GET", path + query(params));
  let meta = {};
  try {
    meta = JSON.parse(r.headers.get("X-Pagination") || "{}");
  } catch {
    meta = {};
  }
  return { items: r.data || [], more: Boolean(meta.next_page), total: meta.total };
}

export async function post(path, body) {
  return (await call("POST", path, { body: body === undefined ? {} : body })).data;
}

// A create: the body's client_id (made here if missing) is also the Idempotency-Key.
export async function create(path, body) {
  const b = { ...body };
  if (!b.client_id) b.client_id = newId();
  return (await call("POST", path, { body: b, headers: { "Idempotency-Key": b.client_id } })).data;
}

export async function login(username, password) {
  const { data } = await raw("POST", "/auth/login", { body: { username, password, device_id: deviceId() } });
  return saveSession(data);
}

export async function activate(activation_code, password) {
  const { data } = await raw("POST", "/auth/activate", {
    body: { activation_code, password, device_id: deviceId() },
  });
  return saveSession(data);
}

// A staff user's one-time reset code (from an admin) and a new password: every other session ends, this one starts
export async function reset(reset_code, password) {
  const { data } = await raw("POST", "/auth/reset", { body: { reset_code, password, device_id: deviceId() } });
  return saveSession(data);
}

export async function logout() {
  const s = session();
  if (s) {
    try {
      await raw("POST", "/auth/logout", { token: s.access });
    } catch {
      // logged out here all the same; the server's refresh token expires on its own
    }
  }
  dropSession("logout");
}

async function sha256hex(blob) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function sendBytes(send, blob, token, onProgress) {
  // XMLHttpRequest only for its upload progress events
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(send.method, send.url);
    let body = blob;
    if (send.method === "PUT") {
      xhr.setRequestHeader("Authorization", "Bearer " + token);
      Object.entries(send.headers || {}).forEach(([k, v]) => xhr.setRequestHeader(k, v));
    } else {
      body = new FormData();
      Object.entries(send.fields || {}).forEach(([k, v]) => body.append(k, v));
      body.append("file", blob, "photo");
    }
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      reject(new ApiError(xhr.status, data));
    };
    xhr.onerror = () => reject(new ApiError(0, null));
    xhr.send(body);
  });
}

// The documented upload flow: declare → bytes → complete. Returns the upload as complete answers it.
export async function upload(blob, purpose, onProgress) {
  const type = blob.type || "image/jpeg";
  const declared = await create("/uploads", {
    purpose,
    content_type: type,
    size_bytes: blob.size,
    sha256: await sha256hex(blob),
  });
  onProgress && onProgress(0);
  const send = async () => sendBytes(declared.upload, blob, session().access, onProgress);
  try {
    await send();
  } catch (err) {
    if (err.status !== 401) throw err;
    await refresh();
    await send();
  }
  onProgress && onProgress(1);
  return post(`/uploads/${declared.id}/complete`);
}

export function getUpload(id, purpose) {
  return get(`/uploads/${id}`, { purpose });
}

// A non-JSON body (a staff list's CSV export: Accept text/csv) as {blob, filename}, through openStream: the
// token in the Authorization header, never in the URL, refreshed once; an error body becomes an ApiError.
export async function download(path, params, accept = "text/csv") {
  const resp = await openStream(path + query(params), { headers: { Accept: accept } });
  const m = /filename="?([^";]+)"?/i.exec(resp.headers.get("Content-Disposition") || "");
  return { blob: await resp.blob(), filename: m ? m[1] : "export.csv" };
}
