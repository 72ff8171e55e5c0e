"""/staff: location history (audited), education and community-service verification."""

from __future__ import annotations

from itertools import islice

from flask import g
from flask.views import MethodView

from backend.services.activities import education, locations, service
from mobile_api.common.records import EducationOut, ServiceOut
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.pagination import CSV_MAX_ROWS, csv_stream, pagination_header, wants_csv
from mobile_api.http.security import authorize
from mobile_api.staff.schemas import EducationVerificationIn, LocationOut, LocationQuery, ServiceVerificationIn

blp = Blueprint("staff_activities", __name__, url_prefix="/api/v1/staff", description="日常监管 Activities (staff)")


@blp.route("/subjects/<int:subject_id>/locations")
class Locations(MethodView):
    @authorize("subject.locations")
    @blp.arguments(LocationQuery, location="query")
    @blp.response(200, LocationOut(many=True))
    def get(self, args, subject_id):
        """List a subject's location history (check-in and photo GPS points); ``purpose`` required, audited."""
        if wants_csv():  # every point of the dates, streamed (the export audited with its purpose and dates)
            points = locations.export(g.actor, subject_id, args["purpose"], args["date_from"], args["date_to"])
            out = LocationOut()
            return csv_stream((out.dump(p) for p in islice(points, CSV_MAX_ROWS)), "locations", list(out.fields))
        points = locations.history(g.actor, subject_id, args["purpose"], args["date_from"], args["date_to"])
        page, size = args["page"], args["page_size"]
        total = len(points)
        pages = (total + size - 1) // size
        meta = {"total": total, "total_pages": pages, "page": page, "page_size": size}
        return points[(page - 1) * size : page * size], 200, pagination_header(meta)


@blp.route("/education-sessions/<int:session_id>/verification")
class EducationVerification(MethodView):
    @authorize("education.verify")
    @blp.arguments(EducationVerificationIn)
    @blp.response(200, EducationOut)
    def post(self, data, session_id):
        """Confirm or reject (with a reason) an offline or 集中教育 session."""
        return education.verify(g.actor, session_id, data["decision"], data["note"])


@blp.route("/service-reports/<int:report_id>/verification")
class ServiceVerification(MethodView):
    @authorize("service.verify")
    @blp.arguments(ServiceVerificationIn)
    @blp.response(200, ServiceOut)
    def post(self, data, report_id):
        """Verify community service (points per whole hour) or reject it with a reason."""
        return service.verify(g.actor, report_id, data["decision"], data["note"])
