"""/me/requests: leave, visitor, residence change and restricted-place requests; cancel; return report (销假)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.db import db
from backend.services.activities import requests, returns
from mobile_api.common.records import RequestOut, RequestQuery
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.idempotent import idempotent
from mobile_api.http.pagination import paginate, pagination_header
from mobile_api.http.security import authorize
from mobile_api.me.schemas import CheckInIn, RequestIn

blp = Blueprint("me_requests", __name__, url_prefix="/api/v1/me", description="申请 My requests")
SCOPE = "request"
RETURN_SCOPE = "request.return"


@blp.route("/requests")
class Requests(MethodView):
    @authorize("request.self")
    @blp.arguments(RequestQuery, location="query")
    @blp.response(200, RequestOut(many=True))
    def get(self, args):
        """List my requests, newest first."""
        items, meta = paginate(db.session, requests.list_own(g.actor, args), args["page"], args["page_size"])
        return items, 200, pagination_header(meta)

    @authorize("request.self")
    @blp.arguments(RequestIn)
    @idempotent(SCOPE)
    @blp.response(201, RequestOut)
    def post(self, data):
        """Submit a request (leave, visitor, residence_change, restricted_place) within the limits."""
        return requests.create(g.actor, data)


@blp.route("/requests/<int:request_id>/cancel")
class Cancel(MethodView):
    @authorize("request.self")
    @blp.response(200, RequestOut)
    def post(self, request_id):
        """Withdraw one of my requests while it awaits a decision."""
        return requests.cancel(g.actor, request_id)


@blp.route("/requests/<int:request_id>/return")
class Return(MethodView):
    @authorize("request.self")
    @blp.arguments(CheckInIn)
    @idempotent(RETURN_SCOPE)
    @blp.response(201, RequestOut)
    def post(self, data, request_id):
        """Report back from a leave (销假) with a check-in at home."""
        return returns.report_return(g.actor, request_id, data)
