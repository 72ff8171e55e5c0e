"""/staff/warnings: the warnings (预警) of my jurisdiction; acknowledge, and handle with an outcome and a note."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.db import db
from backend.models import Subject, Warning, utcnow
from backend.services.activities import periods
from backend.services.oversight import escalation, warning_handling
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.exports import export, page_rows
from mobile_api.http.pagination import pagination_header, wants_csv
from mobile_api.http.security import authorize
from mobile_api.staff.oversight_schemas import WarningHandleIn, WarningOut, WarningQuery

blp = Blueprint("staff_warnings", __name__, url_prefix="/api/v1/staff/warnings", description="预警 Warnings (staff)")
_COLUMNS = [c.key for c in Warning.__table__.columns]
_CSV_FIELDS = [f for f in WarningOut().fields if f not in ("details", "evidence")]


def view(w: Warning, subject_name: str | None = None) -> dict:
    out = {k: getattr(w, k) for k in _COLUMNS}
    if subject_name is None:
        subject_name = db.session.get(Subject, w.subject_id).name
    out.update(subject_name=subject_name, overdue=warning_handling.is_overdue(w, utcnow()))
    return out


@blp.route("")
class Warnings(MethodView):
    @authorize("warning.read")
    @blp.arguments(WarningQuery, location="query")
    @blp.response(200, WarningOut(many=True))
    def get(self, args):
        """List warnings: unhandled first, overdue first, by due time; filter by kind, status, severity, dates."""
        stmt = warning_handling.list_query(g.actor, args)
        if wants_csv():
            return export(stmt, lambda r: view(r[0], r[1]), "warnings", _CSV_FIELDS, args)
        items, meta = page_rows(stmt, args["page"], args["page_size"])
        return [view(w, name) for w, name in items], 200, pagination_header(meta)


@blp.route("/<int:warning_id>")
class WarningById(MethodView):
    @authorize("warning.read")
    @blp.response(200, WarningOut)
    def get(self, warning_id):
        """Show one warning with its evidence links."""
        return view(warning_handling.get(g.actor, warning_id))


@blp.route("/<int:warning_id>/acknowledge")
class WarningAcknowledge(MethodView):
    @authorize("warning.handle")
    @blp.response(200, WarningOut)
    def post(self, warning_id):
        """Mark an open warning as seen; the same again changes nothing."""
        return view(warning_handling.acknowledge(g.actor, warning_id))


@blp.route("/<int:warning_id>/handle")
class WarningHandle(MethodView):
    @authorize("item.decide")
    @blp.arguments(WarningHandleIn)
    @blp.response(200, WarningOut)
    def post(self, data, warning_id):
        """Handle a warning: confirmed (its kind's consequence, e.g. a geofence breach), dismissed or resolved.

        A bureau user may handle a warning once it is overdue (escalation, recorded with the handling).
        """
        handled = escalation.decide(
            g.actor,
            "warning",
            warning_id,
            data["outcome"],
            lambda actor: warning_handling.handle(actor, warning_id, data["outcome"], data["note"]),
            now=periods.now(),
        )
        return view(handled)
