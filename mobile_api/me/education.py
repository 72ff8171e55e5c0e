"""/me/education-sessions, heartbeats and summary (修心教育), and /me/service-reports (公益活动)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.db import db
from backend.services.activities import education, service
from mobile_api.common.records import EducationOut, ServiceIn, ServiceOut, ServiceStatusQuery
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.idempotent import idempotent
from mobile_api.http.pagination import paginate, pagination_header
from mobile_api.http.security import authorize
from mobile_api.me.schemas import EducationIn, EducationQuery, HeartbeatIn, MonthQuery, SummaryOut

blp = Blueprint(
    "me_education", __name__, url_prefix="/api/v1/me", description="修心教育与公益活动 My education, service"
)
EDUCATION_SCOPE = "education"
SERVICE_SCOPE = "service_report"


@blp.route("/education-sessions")
class Sessions(MethodView):
    @authorize("education.self")
    @blp.arguments(EducationQuery, location="query")
    @blp.response(200, EducationOut(many=True))
    def get(self, args):
        """List my education sessions, newest first."""
        items, meta = paginate(db.session, education.list_own(g.actor, args), args["page"], args["page_size"])
        return items, 200, pagination_header(meta)

    @authorize("education.self")
    @blp.arguments(EducationIn)
    @idempotent(EDUCATION_SCOPE)
    @blp.response(201, EducationOut)
    def post(self, data):
        """Start an online session, or log an offline / 集中教育 session with its photo (confirmed by staff)."""
        return education.start_or_log(g.actor, data)


@blp.route("/education-sessions/<int:session_id>/heartbeat")
class Heartbeat(MethodView):
    @authorize("education.self")
    @blp.arguments(HeartbeatIn)
    @blp.response(200, EducationOut)
    def post(self, data, session_id):
        """Ping an online session (every 60 s); the server counts the time; ``ended`` closes it."""
        return education.heartbeat(g.actor, session_id, data)


@blp.route("/education/summary")
class Summary(MethodView):
    @authorize("education.self")
    @blp.arguments(MonthQuery, location="query")
    @blp.response(200, SummaryOut)
    def get(self, args):
        """Show my education hours in a month (default: this month) against the requirement."""
        return education.summary(g.actor, args["month"])


@blp.route("/service-reports")
class ServiceReports(MethodView):
    @authorize("service.self")
    @blp.arguments(ServiceStatusQuery, location="query")
    @blp.response(200, ServiceOut(many=True))
    def get(self, args):
        """List my community service reports, newest first."""
        items, meta = paginate(db.session, service.list_own(g.actor, args), args["page"], args["page_size"])
        return items, 200, pagination_header(meta)

    @authorize("service.self")
    @blp.arguments(ServiceIn)
    @idempotent(SERVICE_SCOPE)
    @blp.response(201, ServiceOut)
    def post(self, data):
        """Report community service: activity, time span, place, photos, organisation or witness, hours."""
        return service.create_own(g.actor, data)
