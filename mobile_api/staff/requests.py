"""/staff/requests: the requests of my jurisdiction and their decisions; /staff/subjects/{id}/transfer."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.db import db
from backend.services.activities import decisions, requests
from mobile_api.common.records import RequestOut
from mobile_api.common.schemas import SubjectOut
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.exports import export_objects
from mobile_api.http.pagination import paginate, pagination_header, wants_csv
from mobile_api.http.security import authorize
from mobile_api.staff.schemas import DecisionIn, StaffRequestQuery, TransferIn

blp = Blueprint("staff_requests", __name__, url_prefix="/api/v1/staff", description="申请审批 Requests (staff)")


@blp.route("/requests")
class StaffRequests(MethodView):
    @authorize("request.list")
    @blp.arguments(StaffRequestQuery, location="query")
    @blp.response(200, RequestOut(many=True))
    def get(self, args):
        """List the requests of my jurisdiction, soonest due first (``awaiting_me``: those my role decides next)."""
        stmt = requests.list_staff(g.actor, args)
        if wants_csv():
            out = RequestOut()
            return export_objects(stmt, out.dump, "requests", list(out.dump_fields), args)
        items, meta = paginate(db.session, stmt, args["page"], args["page_size"])
        return items, 200, pagination_header(meta)


@blp.route("/requests/<int:request_id>/decision")
class Decision(MethodView):
    @authorize("request.decide")
    @blp.arguments(DecisionIn)
    @blp.response(200, RequestOut)
    def post(self, data, request_id):
        """Approve, reject, recommend (to the bureau) or revoke (before it starts) a request, with a note."""
        return decisions.decide(g.actor, request_id, data["decision"], data["note"])


@blp.route("/subjects/<int:subject_id>/transfer")
class Transfer(MethodView):
    @authorize("subject.transfer")
    @blp.arguments(TransferIn)
    @blp.response(200, SubjectOut)
    def post(self, data, subject_id):
        """Move a subject to another office after an approved residence change (history kept)."""
        return decisions.transfer(g.actor, subject_id, data)
