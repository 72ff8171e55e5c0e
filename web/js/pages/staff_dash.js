// 矫务通 home (tabs) and 驾驶舱 (dashboard); messages and the officer's own notifications.
import { OtherRole } from "./auth.js";

export const StaffHome = OtherRole;
export const routes = {};
