// 矫务通 对象 screens: the subject list, a subject's profile, enrolment, face references, level, transfer, release.
export const routes = {};
