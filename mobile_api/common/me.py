"""/me: the caller's own account, password, devices and notifications (every role)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from marshmallow import Schema, fields

from backend.db import db
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
        """List my notifications, newest first."""
        items, meta = paginate(db.session, notifications.list_for(db.session, g.actor), args["page"], args["page_size"])
        return items, 200, pagination_header(meta)


@blp.route("/notifications/<int:notification_id>/read")
class NotificationRead(MethodView):
    @authorize("self.notifications")
    @blp.response(200, NotificationOut)
    def post(self, notification_id):
        """Mark one of my notifications read."""
        return notifications.mark_read(g.actor, notification_id)
