// 矫务通: the officers' and the bureau's screens. Each screen file exports its routes; this one joins them and
// gives the staff home (its tabs: 待办 预警 建议 对象 驾驶舱 我的).
import { routes as dashRoutes, StaffHome } from "./staff_dash.js";
import { routes as subjectRoutes } from "./staff_subjects.js";
import { routes as workRoutes } from "./staff_work.js";

export { StaffHome };
export const staffRoutes = { ...workRoutes, ...subjectRoutes, ...dashRoutes };
