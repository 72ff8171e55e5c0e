"""/me: the caller's own account, password, devices and notifications (every role)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask import Response, g
from flask.views import MethodView
from marshmallow import Schema, fields

from backend import runtime
from backend.db import db
from backend.errors import DomainError
from backend.models import OrgUnit, Subject, User
from backend.services.core import notifications
from backend.services.identity import auth
from mobile_api.common.schemas import (
    DeviceIn,
    DeviceOut,
    NotificationOut,
    PasswordIn,
    SubjectOut,
    TokensOut,
    UserSummary,
)
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.pagination import PageArgs, paginate, pagination_header
from mobile_api.http.security import authorize

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="本人 The caller")


class UnitOut(Schema):
    id = fields.Integer()
    level = fields.String()
    name = fields.String()
    code = fields.String()


class MeOut(Schema):
    user = fields.Nested(UserSummary)
    role = fields.String()
    jurisdiction = fields.List(fields.Nested(UnitOut))
    subject = fields.Nested(SubjectOut, allow_none=True)


@blp.route("")
class Me(MethodView):
    @authorize("self.read")
    @blp.response(200, MeOut)
    def get(self):
        """Show the current user, role and jurisdiction; a subject also gets their profile."""
        s = db.session
        user = s.get(User, g.actor.user_id)
        subject = s.get(Subject, g.actor.subject_id) if g.actor.subject_id else None
        unit_ids = (subject.office_id, subject.grid_id) if subject else g.actor.unit_ids
        units = [u for u in (s.get(OrgUnit, i) for i in unit_ids) if u is not None]
        return {"user": user, "role": user.role, "jurisdiction": units, "subject": subject}


@blp.route("/password")
class Password(MethodView):
    @authorize("self.password")
    @blp.arguments(PasswordIn)
    @blp.response(200, TokensOut)
    def post(self, data):
        """Change the password (old and new); every other login of this user is signed out."""
        return auth.change_password(g.actor, data["old_password"], data["new_password"], g.claims["sid"])


@blp.route("/devices")
class Devices(MethodView):
    @authorize("self.devices")
    @blp.arguments(DeviceIn)
    @blp.response(200, DeviceOut)
    def post(self, data):
        """Register this device's push token."""
        return auth.register_device(g.actor, data["device_id"], data["platform"], data["push_token"])


@blp.route("/notifications")
class Notifications(MethodView):
    @authorize("self.notifications")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, NotificationOut(many=True))
    def get(self, args):
        """List my notifications, newest first, each with its delivery per channel (app, push, SMS)."""
        items, meta = paginate(db.session, notifications.list_for(db.session, g.actor), args["page"], args["page_size"])
        return notifications.with_deliveries(db.session, list(items)), 200, pagination_header(meta)


class StreamArgs(Schema):
    once = fields.Boolean(
        load_default=False,
        metadata={"description": "end the response at once after sending what is stored (tests, a quick check)"},
    )


class StreamHeaders(Schema):
    last_event_id = fields.String(
        data_key="Last-Event-ID",
        load_default=None,
        metadata={
            "description": "resume after this event (a notification id); without it the stream starts with the "
            "unread ones",
            "pattern": "^[0-9]{1,10}$",
        },
    )


_STREAM_OK = {
    "description": (
        "Server-Sent Events (read with fetch and the Authorization header): one `notification` event per "
        "notification (`id:` its id, `data:` the notification as in GET /me/notifications), comment lines as "
        "heartbeats; the response ends after NOTIFICATION_STREAM_SECONDS (about 55 s) and the client "
        "reconnects with Last-Event-ID"
    ),
    "content": {
        "text/event-stream": {
            # OpenAPI before 3.2: the schema of a text/event-stream describes each event, not the stream
            "schema": {
                "type": "object",
                "description": (
                    "one Server-Sent Event, e.g. `id: 12`, `event: notification`, "
                    '`data: {"id": 12, "kind": "checkin_reminder", ...}`; a first `retry: 3000`'
                ),
                "properties": {
                    "id": {"type": "string", "description": "the notification's id (the Last-Event-ID to resume)"},
                    "event": {"type": "string", "enum": ["notification"]},
                    "data": {"type": "string", "description": "the notification as JSON, as in GET /me/notifications"},
                    "retry": {"type": "integer", "description": "milliseconds before reconnecting"},
                },
            },
        }
    },
}


def _last_event_id(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or int(raw) > 2**31 - 1:
        raise DomainError("VALIDATION_FAILED", {"Last-Event-ID": ["必须是通知编号 / must be a notification id"]})
    return int(raw)


def _sse(batches, after: int | None) -> Iterator[str]:
    """SSE text: a ``notification`` event per notification (id: its id), comments as heartbeats, and an
    ``id:`` line alone where the cursor moved past the last event (a reconnect resumes there)."""
    schema = NotificationOut()
    yield "retry: 3000\n\n"
    last = after
    for batch, cursor in batches:
        if not batch:
            yield ": keep-alive\n\n"
        for n in batch:
            body = json.dumps(schema.dump(n), ensure_ascii=False, separators=(",", ":"))
            yield f"id: {n['id']}\nevent: notification\ndata: {body}\n\n"
            last = n["id"]
        if cursor and cursor != last:
            yield f"id: {cursor}\n\n"
            last = cursor


@blp.route("/notifications/stream")
class NotificationStream(MethodView):
    @authorize("self.notifications")
    @blp.arguments(StreamArgs, location="query")
    @blp.arguments(StreamHeaders, location="headers")
    @blp.doc(responses={"200": _STREAM_OK})
    def get(self, args, headers):
        """Stream my new notifications as they are stored (Server-Sent Events; Last-Event-ID resumes)."""
        after = _last_event_id(headers.get("last_event_id"))
        seconds = 0 if args["once"] else runtime.settings().notification_stream_s
        user_id = g.actor.user_id
        db.remove()  # no connection is held while the stream waits: each look takes and returns its own
        return Response(
            _sse(notifications.watch(user_id, after, seconds), after),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


@blp.route("/notifications/<int:notification_id>/read")
class NotificationRead(MethodView):
    @authorize("self.notifications")
    @blp.response(200, NotificationOut)
    def post(self, notification_id):
        """Mark one of my notifications read."""
        return notifications.mark_read(g.actor, notification_id)
