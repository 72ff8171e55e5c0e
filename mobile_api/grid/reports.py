"""/grid/field-reports (网格员信息报送) and /staff/field-reports (their review by the officer)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.db import db
from backend.models import Subject
from backend.models.field import FieldReport
from backend.services.field import reports, review
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.exports import export, page_rows
from mobile_api.http.idempotent import idempotent
from mobile_api.http.pagination import pagination_header, wants_csv
from mobile_api.http.security import authorize
from mobile_api.staff.oversight_schemas import (
    FieldReportIn,
    FieldReportOut,
    FieldReviewIn,
    GridReportQuery,
    PurposeQuery,
    StaffFieldReportOut,
    StaffReportQuery,
)

blp = Blueprint("grid_reports", __name__, url_prefix="/api/v1/grid", description="网格员现场报告 Field reports")
staff_blp = Blueprint(
    "staff_field_reports", __name__, url_prefix="/api/v1/staff/field-reports", description="现场报告审核 Field reports"
)
_COLUMNS = [c.key for c in FieldReport.__table__.columns]
_CSV_FIELDS = [f for f in StaffFieldReportOut().fields if f not in ("classification", "latitude", "longitude")]


def _view(report: FieldReport, subject_name: str, *, location: bool = True) -> dict:
    out = {k: getattr(report, k) for k in _COLUMNS}
    out.update(subject_name=subject_name, hits=report.classification.get("hits", []))
    if not location:  # a subject's whereabouts are location data: staff see them with a purpose (audited)
        out.update(latitude=None, longitude=None)
    return out


def _page(stmt, args, location: bool):
    items, meta = page_rows(stmt, args["page"], args["page_size"])
    return [_view(r, name, location=location) for r, name in items], 200, pagination_header(meta)


@blp.route("/field-reports")
class GridFieldReports(MethodView):
    @authorize("field_report.create")
    @blp.arguments(GridReportQuery, location="query")
    @blp.response(200, FieldReportOut(many=True))
    def get(self, args):
        """List my field reports on subjects of my grids, newest first."""
        items, meta = page_rows(reports.grid_list_query(g.actor, args), args["page"], args["page_size"])
        return [_view(r, name) for r, name in items], 200, pagination_header(meta)

    @idempotent("field_report.create")
    @authorize("field_report.create")
    @blp.arguments(FieldReportIn)
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


@staff_blp.route("")
class StaffFieldReports(MethodView):
    @authorize("field_report.read")
    @staff_blp.arguments(StaffReportQuery, location="query")
    @staff_blp.response(200, StaffFieldReportOut(many=True))
    def get(self, args):
        """List field reports of my jurisdiction, those awaiting review first (CSV with Accept: text/csv)."""
        stmt = reports.staff_list_query(g.actor, args)
        if wants_csv():
            return export(stmt, lambda r: _view(r[0], r[1], location=False), "field_reports", _CSV_FIELDS, args)
        return _page(stmt, args, location=False)


@staff_blp.route("/<int:report_id>")
class StaffFieldReportById(MethodView):
    @authorize("field_report.read")
    @staff_blp.arguments(PurposeQuery, location="query")
    @staff_blp.response(200, StaffFieldReportOut)
    def get(self, args, report_id):
        """Show a field report; ?purpose=… also shows where it was observed (the read is audited)."""
        report = reports.get(g.actor, report_id, purpose=args["purpose"])
        name = db.session.get(Subject, report.subject_id).name
        return _view(report, name, location=bool(args["purpose"]))


@staff_blp.route("/<int:report_id>/review")
class StaffFieldReportReview(MethodView):
    @authorize("field_report.review")
    @staff_blp.arguments(FieldReviewIn)
    @staff_blp.response(200, StaffFieldReportOut)
    def post(self, data, report_id):
        """Confirm a negative report (GRID_NEGATIVE) or dismiss it, with a note; the same decision again is a no-op."""
        report = review.review(g.actor, report_id, data["decision"], data["note"])
        return _view(report, db.session.get(Subject, report.subject_id).name, location=False)
