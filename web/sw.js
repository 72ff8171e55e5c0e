// The service worker: caches the app shell (this folder's files) so every screen opens offline.
// Only same-origin GETs under /app/ are answered from the cache; the API and other origins never are.
const CACHE = "zhijiao-shell-v1";
const SHELL = [
  "/app/",
  "/app/css/app.css",
  "/app/css/staff.css",
  "/app/js/main.js",
  "/app/js/api.js",
  "/app/js/queue.js",
  "/app/js/ui.js",
  "/app/js/live.js",
  "/app/js/pages/auth.js",
  "/app/js/pages/subject.js",
  "/app/js/pages/grid.js",
  "/app/js/pages/study.js",
  "/app/js/pages/more.js",
  "/app/js/pages/staff.js",
  "/app/js/pages/staff_dash.js",
  "/app/js/pages/staff_subjects.js",
  "/app/js/pages/staff_work.js",
  "/app/manifest.webmanifest",
  "/app/icons/icon-192.png",
  "/app/icons/icon-512.png",
  "/app/vendor/vue/vue.runtime.global.prod.js",
  "/app/vendor/vant/vant.min.js",
  "/app/vendor/vant/index.local.css",
  "/app/vendor/echarts/echarts.min.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// network first (a deploy shows at once), the cached copy when the network fails
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith("/app/")) return;
  const key = url.pathname === "/app/index.html" ? "/app/" : url.pathname;
  event.respondWith(
    fetch(event.request)
      .then((resp) => {
        if (resp.ok) {
          const copy = resp.clone();
          caches.open(CACHE).then((c) => c.put(key, copy));
        }
        return resp;
      })
      .catch(() => caches.match(key).then((hit) => hit || Response.error())),
  );
});
