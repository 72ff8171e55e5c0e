"""/staff: location history (audited), a subject's check-ins, learning and community service (reads), their
verification, and the org units of my jurisdiction (names, the district's area)."""

from __future__ import annotations

from itertools import islice

from flask import g
from flask.views import MethodView

from backend.db import db
from backend.services.activities import checkins, education, locations, periods, service
from backend.services.oversight import escalation
from backend.services.subjects import orgs
from mobile_api.common.records import EducationOut, ServiceOut
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.exports import export_objects
from mobile_api.http.pagination import CSV_MAX_ROWS, csv_stream, paginate, pagination_header, wants_csv
from mobile_api.http.security import authorize
from mobile_api.staff.schemas import (
    EducationVerificationIn,
    LocationOut,
    LocationQuery,
    ServiceVerificationIn,
    StaffCheckInOut,
    StaffCheckInQuery,
    StaffEducationOut,
    StaffEducationQuery,
    StaffOrgUnitOut,
    StaffServiceOut,
    StaffServiceQuery,
)

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
    @authorize("item.decide")
    @blp.arguments(EducationVerificationIn)
    @blp.response(200, EducationOut)
    def post(self, data, session_id):
        """Confirm or reject (with a reason) an offline or 集中教育 session; the bureau too, once it is overdue."""
        return escalation.decide(
            g.actor,
            "education_verification",
            session_id,
            data["decision"],
            lambda actor: education.verify(actor, session_id, data["decision"], data["note"]),
            now=periods.now(),
        )


@blp.route("/service-reports/<int:report_id>/verification")
class ServiceVerification(MethodView):
    @authorize("item.decide")
    @blp.arguments(ServiceVerificationIn)
    @blp.response(200, ServiceOut)
    def post(self, data, report_id):
        """Verify community service (points per whole hour) or reject it with a reason; the bureau once overdue."""
        return escalation.decide(
            g.actor,
            "service_verification",
            report_id,
            data["decision"],
            lambda actor: service.verify(actor, report_id, data["decision"], data["note"]),
            now=periods.now(),
        )


def _listing(stmt, args: dict, schema, name: str, subject_id: int):
    """A page of ``stmt``, or with Accept: text/csv every row of it (streamed, the export audited)."""
    if wants_csv():
        out = schema()
        return export_objects(stmt, out.dump, name, list(out.dump_fields), {**args, "subject_id": subject_id})
    items, meta = paginate(db.session, stmt, args["page"], args["page_size"])
    return items, 200, pagination_header(meta)


@blp.route("/org-units")
class OrgUnits(MethodView):
    @authorize("org.staff_read")
    @blp.response(200, StaffOrgUnitOut(many=True))
    def get(self):
        """List the units of my jurisdiction: an officer's offices, their grids and district; a bureau user's
        district, its offices and grids. The district carries its area (GeoJSON) for drawing."""
        return orgs.staff_units(db.session, g.actor)


@blp.route("/subjects/<int:subject_id>/checkins")
class SubjectCheckIns(MethodView):
    @authorize("subject.read")
    @blp.arguments(StaffCheckInQuery, location="query")
    @blp.response(200, StaffCheckInOut(many=True))
    def get(self, args, subject_id):
        """List a subject's check-ins, newest first: status, outcome, times, inside the area or not (no position;
        CSV with Accept: text/csv)."""
        stmt = checkins.staff_list_query(g.actor, subject_id, args)
        return _listing(stmt, args, StaffCheckInOut, "checkins", subject_id)


@blp.route("/subjects/<int:subject_id>/education-sessions")
class SubjectEducation(MethodView):
    @authorize("subject.read")
    @blp.arguments(StaffEducationQuery, location="query")
    @blp.response(200, StaffEducationOut(many=True))
    def get(self, args, subject_id):
        """List a subject's learning sessions (online, offline, 集中教育), newest first (CSV with Accept: text/csv)."""
        stmt = education.staff_list_query(g.actor, subject_id, args)
        return _listing(stmt, args, StaffEducationOut, "education_sessions", subject_id)


@blp.route("/subjects/<int:subject_id>/service-reports")
class SubjectService(MethodView):
    @authorize("subject.read")
    @blp.arguments(StaffServiceQuery, location="query")
    @blp.response(200, StaffServiceOut(many=True))
    def get(self, args, subject_id):
        """List a subject's community-service reports, newest first (CSV with Accept: text/csv)."""
        stmt = service.staff_list_query(g.actor, subject_id, args)
        return _listing(stmt, args, StaffServiceOut, "service_reports", subject_id)


@blp.route("/education-sessions/<int:session_id>")
class EducationSessionById(MethodView):
    @authorize("subject.read")
    @blp.response(200, StaffEducationOut)
    def get(self, session_id):
        """Show a learning session of a subject of my jurisdiction (for its verification)."""
        return education.staff_get(g.actor, session_id)


@blp.route("/service-reports/<int:report_id>")
class ServiceReportById(MethodView):
    @authorize("subject.read")
    @blp.response(200, StaffServiceOut)
    def get(self, report_id):
        """Show a community-service report of a subject of my jurisdiction: hours, place, witness, photos."""
        return service.staff_get(g.actor, report_id)
