// Live notifications: reads GET /me/notifications/stream with fetch (the Authorization header; never EventSource,
// which cannot send it, and never a token in a URL), parses its Server-Sent Events, dispatches
// window "zhijiao:notification" (event.detail: the notification) per notification with a toast, and reconnects
// with Last-Event-ID when a response ends (the server ends each one after about a minute) or the network fails.
// Rules: docs/schedules.md#delivery.
import * as api from "./api.js";
import { NOTIFICATION_EVENT, toast } from "./ui.js";

const PATH = "/me/notifications/stream";
// a notification this recent when it arrives gets a toast; older unread ones (a reload) are only dispatched
const TOAST_WITHIN_MS = 2 * 60 * 1000;
let current = null;

export function start() {
  if (current) return;
  const run = { stopped: false, controller: null, lastId: null, failures: 0 };
  current = run;
  loop(run);
}

export function stop() {
  if (!current) return;
  current.stopped = true;
  if (current.controller) current.controller.abort();
  if (current.wake) current.wake();
  current = null;
}

function sleep(ms, run) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    run.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });
}

async function loop(run) {
  while (!run.stopped) {
    let wait = 3000;
    run.controller = new AbortController();
    try {
      const headers = run.lastId ? { "Last-Event-ID": run.lastId } : {};
      const resp = await api.openStream(PATH, { headers, signal: run.controller.signal });
      run.failures = 0;
      wait = (await read(run, resp)) || wait;
    } catch (err) {
      if (run.stopped) return;
      // signed out, or a role without notifications: the api client's logout handling takes it from here
      if (err && (err.status === 401 || err.status === 403)) {
        if (current === run) current = null;
        return;
      }
      run.failures += 1;
      wait = Math.min(30000, 1000 * 2 ** Math.min(run.failures, 5)); // offline or the server away: back off
    }
    if (!run.stopped) await sleep(wait, run);
  }
}

// Read one response to its end; returns the server's `retry:` (ms) if it sent one.
async function read(run, resp) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let retry = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event.retry) retry = event.retry;
      if (event.id) run.lastId = event.id;
      if (event.data !== null && event.event === "notification") arrived(event.data);
    }
  }
  return retry;
}

// One SSE block: `field: value` lines; comments (":") are heartbeats; data lines join with "\n".
export function parse(block) {
  const event = { id: null, event: "message", data: null, retry: 0 };
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "id") event.id = value;
    else if (field === "event") event.event = value;
    else if (field === "retry" && /^\d+$/.test(value)) event.retry = Number(value);
  }
  if (data.length) {
    try {
      event.data = JSON.parse(data.join("\n"));
    } catch {
      event.data = null;
    }
  }
  return event;
}

function arrived(n) {
  window.dispatchEvent(new CustomEvent(NOTIFICATION_EVENT, { detail: n }));
  const created = Date.parse(n.created_at || "");
  if (!Number.isNaN(created) && Date.now() - created < TOAST_WITHIN_MS) toast(n.title || "您有一条新消息");
}
