"""/grid/field-reports (网格员信息报送): a grid worker's reports on the subjects of their grids."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.db import db
from backend.models import Subject
from backend.services.field import reports
from mobile_api.common.records import GridReportQuery
from mobile_api.common.records import field_report_view as _view
from mobile_api.grid.schemas import FieldReportIn, FieldReportOut
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.exports import page_rows
from mobile_api.http.idempotent import idempotent
from mobile_api.http.pagination import pagination_header
from mobile_api.http.security import authorize

blp = Blueprint("grid_reports", __name__, url_prefix="/api/v1/grid", description="网格员现场报告 Field reports")


@blp.route("/field-reports")
class GridFieldReports(MethodView):
    @authorize("field_report.create")
    @blp.arguments(GridReportQuery, location="query")
    @blp.response(200, FieldReportOut(many=True))
    def get(self, args):
        """List my field reports on subjects of my grids, newest first."""
        items, meta = page_rows(reports.grid_list_query(g.actor, args), args["page"], args["page_size"])
        return [_view(r, name) for r, name in items], 200, pagination_header(meta)

    @authorize("field_report.create")
    @blp.arguments(FieldReportIn)
    @idempotent("field_report.create")
    @blp.response(201, FieldReportOut)
    def post(self, data):
        """Report on a subject of my grids: photos, text, tags, place and time; the text is classified at once."""
        report = reports.create(g.actor, data)
        return _view(report, db.session.get(Subject, report.subject_id).name)


@blp.route("/field-reports/<int:report_id>")
class GridFieldReportById(MethodView):
    @authorize("field_report.create")
    @blp.response(200, FieldReportOut)
    def get(self, report_id):
        """Show one of my field reports with its classification and review status."""
        report = reports.get(g.actor, report_id)
        return _view(report, db.session.get(Subject, report.subject_id).name)
