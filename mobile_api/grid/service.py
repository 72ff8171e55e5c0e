"""/grid/service-reports: community service a grid worker observed in the field (counts as witnessed).

Rules: docs/education-and-service.md#community-service (the list: #a-grid-workers-observed-service).
"""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from sqlalchemy import or_, select

from backend.models import Subject
from backend.models.service import ServiceReport
from backend.services.activities import service
from backend.services.identity import access
from mobile_api.common.records import ServiceOut
from mobile_api.grid.schemas import GridServiceIn, GridServiceOut, GridServiceQuery
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.exports import page_rows
from mobile_api.http.idempotent import idempotent
from mobile_api.http.pagination import pagination_header
from mobile_api.http.security import authorize

blp = Blueprint("grid_service", __name__, url_prefix="/api/v1/grid", description="网格员 Observed community service")


_FIELDS = [k for k in ServiceOut._declared_fields if k != "subject_name"]


def _observed(report: ServiceReport, subject_name: str) -> dict:
    """The report as GridServiceOut dumps it: its fields and the subject's name."""
    return {**{k: getattr(report, k) for k in _FIELDS}, "subject_name": subject_name}


@blp.route("/service-reports")
class ObservedService(MethodView):
    @authorize("service.observe")
    @blp.arguments(GridServiceQuery, location="query")
    @blp.response(200, GridServiceOut(many=True))
    def get(self, args):
        """List the service I observed (my reports, and subjects' reports I witnessed) on subjects still in my
        grids, newest first."""
        me = g.actor.user_id
        stmt = (
            select(ServiceReport, Subject.name)
            .join(Subject, Subject.id == ServiceReport.subject_id)
            .where(
                or_(ServiceReport.reported_by == me, ServiceReport.witnessed_by == me), access.subject_scope(g.actor)
            )
        )
        if args["status"]:
            stmt = stmt.where(ServiceReport.status == args["status"])
        if args["subject_id"] is not None:
            stmt = stmt.where(ServiceReport.subject_id == args["subject_id"])
        rows, meta = page_rows(stmt.order_by(ServiceReport.id.desc()), args["page"], args["page_size"])
        return [_observed(r, name) for r, name in rows], 200, pagination_header(meta)

    @authorize("service.observe")
    @blp.arguments(GridServiceIn)
    @idempotent("grid.service_report")
    @blp.response(201, ServiceOut)
    def post(self, data):
        """Report community service observed for a subject of my grids; an officer still verifies it."""
        return service.create_observed(g.actor, data)
