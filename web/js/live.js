// Live notifications: reads GET /me/notifications/stream with fetch (the Authorization header; never EventSource).
export function start() {}
