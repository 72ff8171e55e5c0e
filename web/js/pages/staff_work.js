// 矫务通 work screens: 待办 (inbox and decisions), 预警 (warnings), 建议 (suggestions), decisions on scores.
export const routes = {};
