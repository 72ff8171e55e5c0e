"""/staff/field-reports: the officer's review of grid workers' field reports (网格员信息报送)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.db import db
from backend.models import Subject
from backend.services.activities import periods
from backend.services.field import reports, review
from backend.services.oversight import escalation
from mobile_api.common.records import field_report_view as _view
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.exports import export, page_rows
from mobile_api.http.pagination import pagination_header, wants_csv
from mobile_api.http.security import authorize
from mobile_api.staff.oversight_schemas import FieldReviewIn, PurposeQuery, StaffFieldReportOut, StaffReportQuery

blp = Blueprint(
    "staff_field_reports", __name__, url_prefix="/api/v1/staff/field-reports", description="现场报告审核 Field reports"
)
_CSV_FIELDS = [f for f in StaffFieldReportOut().fields if f not in ("classification", "latitude", "longitude")]


def _page(stmt, args, location: bool):
    items, meta = page_rows(stmt, args["page"], args["page_size"])
    return [_view(r, name, location=location) for r, name in items], 200, pagination_header(meta)


@blp.route("")
class StaffFieldReports(MethodView):
    @authorize("field_report.read")
    @blp.arguments(StaffReportQuery, location="query")
    @blp.response(200, StaffFieldReportOut(many=True))
    def get(self, args):
        """List field reports of my jurisdiction, those awaiting review first (CSV with Accept: text/csv)."""
        stmt = reports.staff_list_query(g.actor, args)
        if wants_csv():
            return export(stmt, lambda r: _view(r[0], r[1], location=False), "field_reports", _CSV_FIELDS, args)
        return _page(stmt, args, location=False)


@blp.route("/<int:report_id>")
class StaffFieldReportById(MethodView):
    @authorize("field_report.read")
    @blp.arguments(PurposeQuery, location="query")
    @blp.response(200, StaffFieldReportOut)
    def get(self, args, report_id):
        """Show a field report; ?purpose=… also shows where it was observed (the read is audited)."""
        report = reports.get(g.actor, report_id, purpose=args["purpose"])
        name = db.session.get(Subject, report.subject_id).name
        return _view(report, name, location=bool(args["purpose"]))


@blp.route("/<int:report_id>/review")
class StaffFieldReportReview(MethodView):
    @authorize("item.decide")
    @blp.arguments(FieldReviewIn)
    @blp.response(200, StaffFieldReportOut)
    def post(self, data, report_id):
        """Confirm a negative report (GRID_NEGATIVE) or dismiss it, with a note; the same decision again is a no-op.

        A bureau user may review it once it is overdue (escalation, recorded with the review).
        """
        report = escalation.decide(
            g.actor,
            "negative_field_report",
            report_id,
            data["decision"],
            lambda actor: review.review(actor, report_id, data["decision"], data["note"]),
            now=periods.now(),
        )
        return _view(report, db.session.get(Subject, report.subject_id).name, location=False)
