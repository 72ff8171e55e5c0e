"""/admin: org units, users and the audit log (admins see no subject records)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from sqlalchemy import select

from backend.db import db
from backend.errors import NotFound
from backend.models import AuditLog, OrgUnit, User
from backend.services.core import audit, audit_checkpoints
from backend.services.identity import recovery, users
from backend.services.subjects import orgs
from mobile_api.admin.schemas import (
    AuditOut,
    AuditQuery,
    OrgUnitIn,
    OrgUnitOut,
    OrgUnitQuery,
    ResetCodeOut,
    UserIn,
    UserOut,
    UserPatchIn,
    UserQuery,
    VerifyOut,
)
from mobile_api.common.schemas import CodeIn
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.idempotent import idempotent
from mobile_api.http.pagination import paginate, pagination_header
from mobile_api.http.security import authorize

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="管理 Administration")


@blp.route("/org-units")
class OrgUnits(MethodView):
    @authorize("admin.org_units")
    @blp.arguments(OrgUnitQuery, location="query")
    @blp.response(200, OrgUnitOut(many=True))
    def get(self, args):
        """List org units (the subtree under ?under=ID, else all)."""
        if args["under"] is not None:
            return orgs.subtree(db.session, args["under"])
        return list(db.session.scalars(select(OrgUnit).order_by(OrgUnit.path)))

    @authorize("admin.org_units")
    @blp.arguments(OrgUnitIn)
    @idempotent("admin.org_unit")
    @blp.response(201, OrgUnitOut)
    def post(self, data):
        """Create an org unit one level below its parent; districts may carry their permitted area."""
        return orgs.add_unit(g.actor, data)


@blp.route("/users")
class Users(MethodView):
    @authorize("admin.users")
    @blp.arguments(UserQuery, location="query")
    @blp.response(200, UserOut(many=True))
    def get(self, args):
        """List staff and admin accounts."""
        stmt = select(User).where(User.role != "subject").order_by(User.id)
        if args["role"]:
            stmt = stmt.where(User.role == args["role"])
        items, meta = paginate(db.session, stmt, args["page"], args["page_size"])
        return items, 200, pagination_header(meta)

    @authorize("admin.users")
    @blp.arguments(UserIn)
    @idempotent("admin.user")
    @blp.response(201, UserOut)
    def post(self, data):
        """Create a staff or admin account with its org units."""
        return users.add_user(g.actor, data)


@blp.route("/users/<int:user_id>")
class UserById(MethodView):
    @authorize("admin.users")
    @blp.arguments(UserPatchIn)
    @blp.response(200, UserOut)
    def patch(self, data, user_id):
        """Enable or disable an account; disabling revokes all its tokens (not your own, not the last admin)."""
        target = db.session.get(User, user_id)
        if target is None or target.role == "subject":
            raise NotFound("user")
        return users.set_active(g.actor, user_id, data["active"])


@blp.route("/users/<int:user_id>/reset-code")
class ResetCode(MethodView):
    @authorize("user.reset_code")
    @blp.arguments(CodeIn)
    @idempotent("admin.reset_code")
    @blp.response(201, ResetCodeOut)
    def post(self, data, user_id):
        """Issue a one-time reset code to a staff user, who sets a new password with it at /auth/reset."""
        code, expires = recovery.issue_reset_code(g.actor, user_id)
        username = db.session.scalar(select(User.username).where(User.id == user_id))
        return {"user_id": user_id, "username": username, "reset_code": code, "expires_at": expires}


@blp.route("/audit")
class AuditLogView(MethodView):
    @authorize("admin.audit")
    @blp.arguments(AuditQuery, location="query")
    @blp.response(200, AuditOut(many=True))
    def get(self, args):
        """Query the audit log, newest first."""
        stmt = select(AuditLog).order_by(AuditLog.id.desc())
        for key in ("action", "actor_id", "target_type", "target_id"):
            if args[key] is not None:
                stmt = stmt.where(getattr(AuditLog, key) == args[key])
        if args["since"]:
            stmt = stmt.where(AuditLog.created_at >= args["since"])
        if args["until"]:
            stmt = stmt.where(AuditLog.created_at < args["until"])
        items, meta = paginate(db.session, stmt, args["page"], args["page_size"])
        return items, 200, pagination_header(meta)


@blp.route("/audit/verify")
class AuditVerify(MethodView):
    @authorize("admin.audit")
    @blp.response(200, VerifyOut)
    def post(self):
        """Verify the whole audit chain and its checkpoints; name the first broken row, a truncation or a gap."""
        session = db.new_session()
        try:
            result = audit_checkpoints.verify(session)
        finally:
            session.close()
        with db.tx() as s:
            details = {"ok": result.ok, "rows": result.rows, "truncated": result.truncated}
            audit.record(s, "audit.verify", actor=g.actor, details=details)
        return result
