// The app: one hash router for every role; after login each role sees its own home.
import * as api from "./api.js";
import * as live from "./live.js";
import * as queue from "./queue.js";
import { Activate, Login, Mine, OtherRole, Password, Reset } from "./pages/auth.js";
import { FieldReport, GridHome, MyReports, ObservedService } from "./pages/grid.js";
import { Merit, Rights, Service } from "./pages/more.js";
import { Appeal, Study } from "./pages/study.js";
import { StaffHome, staffRoutes } from "./pages/staff.js";
import { CheckIn, Home, Messages, NewRequest, Requests, Score } from "./pages/subject.js";
import { h, state } from "./ui.js";

const HOMES = { subject: Home, grid_worker: GridHome, officer: StaffHome, bureau: StaffHome };
const ROUTES = {
  subject: { "/checkin": CheckIn, "/requests": Requests, "/requests/new": NewRequest, "/score": Score, "/messages": Messages,
    "/study": Study, "/appeal": Appeal, "/service": Service, "/merit": Merit, "/rights": Rights },
  grid_worker: { "/grid/report": FieldReport, "/grid/reports": MyReports, "/grid/service": ObservedService },
  officer: staffRoutes,
  bureau: staffRoutes,
};
const PUBLIC = { "/login": Login, "/activate": Activate, "/reset": Reset };

function parse() {
  const [path, qs] = (location.hash.slice(1) || "/").split("?");
  state.route = { path: path || "/", query: Object.fromEntries(new URLSearchParams(qs || "")) };
}

function current() {
  const { path } = state.route;
  if (!state.user) return PUBLIC[path] || Login;
  if (PUBLIC[path]) return HOMES[state.user.role] || OtherRole;
  const own = ROUTES[state.user.role] || {};
  if (own[path]) return own[path];
  if (path === "/mine") return Mine;
  if (path === "/password") return Password;
  return HOMES[state.user.role] || OtherRole;
}

const App = {
  setup() {
    return () => h(current(), { key: state.route.path + "?" + JSON.stringify(state.route.query) });
  },
};

state.user = (api.session() || {}).user || null;
api.onLogout(() => {
  state.user = null;
  state.queued = [];
  location.hash = "#/login";
});
// the live notifications run while someone is signed in (a new login restarts them; logout stops them)
Vue.watch(
  () => state.user,
  (user) => {
    live.stop();
    if (user) live.start();
  },
  { immediate: true },
);
window.addEventListener("hashchange", parse);
parse();
Vue.createApp(App).use(vant).mount("#app");
document.documentElement.dataset.ready = "1";
if (navigator.onLine) queue.flush();
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
