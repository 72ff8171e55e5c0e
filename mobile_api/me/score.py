"""/me/score, /me/appeals, /me/merit-applications: 我要查分, 我要权益, 我要申诉, 我要加分 (the subject's own)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from sqlalchemy import select

from backend.db import db
from backend.errors import NotFound
from backend.models import Subject
from backend.models.scoring_decisions import Appeal, MeritApplication
from backend.services.scoring import appeals, merits, read
from mobile_api.common.records import (
    AppealOut,
    AppealStatusQuery,
    EventOut,
    EventQuery,
    HistoryOut,
    HistoryQuery,
    MeritOut,
    MeritStatusQuery,
    ScoreOut,
)
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.idempotent import idempotent
from mobile_api.http.pagination import paginate, pagination_header
from mobile_api.http.security import authorize
from mobile_api.me.schemas import AppealIn, MeritIn, MeritTypeOut

blp = Blueprint("score", __name__, url_prefix="/api/v1/me", description="信用矫正分 My score")


def _me() -> Subject:
    subject = db.session.get(Subject, g.actor.subject_id) if g.actor.subject_id else None
    if subject is None:
        raise NotFound("subject")
    return subject


@blp.route("/score")
class MyScore(MethodView):
    @authorize("scoring.self")
    @blp.response(200, ScoreOut)
    def get(self):
        """Show my score: dimensions explained, grade and colour, benefits, city conversions, next grade."""
        return read.view(_me())


@blp.route("/score/history")
class MyScoreHistory(MethodView):
    @authorize("scoring.self")
    @blp.arguments(HistoryQuery, location="query")
    @blp.response(200, HistoryOut)
    def get(self, args):
        """Show my daily totals and every dated change with its cause (default: the last 30 days)."""
        return read.history(_me(), args["date_from"], args["date_to"])


@blp.route("/score/events")
class MyScoreEvents(MethodView):
    @authorize("scoring.self")
    @blp.arguments(EventQuery, location="query")
    @blp.response(200, EventOut(many=True))
    def get(self, args):
        """List my scoring events (the ledger), newest first, with rule, reason, source, expiry and status."""
        items, meta = paginate(db.session, read.events_query(_me().id, args), args["page"], args["page_size"])
        return read.event_out(db.session, items), 200, pagination_header(meta)


@blp.route("/appeals")
class MyAppeals(MethodView):
    @authorize("scoring.appeal.create")
    @blp.arguments(AppealStatusQuery, location="query")
    @blp.response(200, AppealOut(many=True))
    def get(self, args):
        """List my appeals, newest first."""
        stmt = select(Appeal).where(Appeal.subject_id == _me().id).order_by(Appeal.id.desc())
        if args["status"]:
            stmt = stmt.where(Appeal.status == args["status"])
        items, meta = paginate(db.session, stmt, args["page"], args["page_size"])
        return items, 200, pagination_header(meta)

    @authorize("scoring.appeal.create")
    @blp.arguments(AppealIn)
    @idempotent("scoring.appeal")
    @blp.response(201, AppealOut)
    def post(self, data):
        """Appeal one of my events (我要申诉), with evidence uploads; one open appeal per event."""
        return appeals.create(g.actor, data["event_id"], data["reason"], data["upload_ids"])


@blp.route("/merit-applications")
class MyMerits(MethodView):
    @authorize("scoring.merit.create")
    @blp.arguments(MeritStatusQuery, location="query")
    @blp.response(200, MeritOut(many=True))
    def get(self, args):
        """List my merit applications, newest first."""
        stmt = select(MeritApplication).where(MeritApplication.subject_id == _me().id)
        if args["status"]:
            stmt = stmt.where(MeritApplication.status == args["status"])
        items, meta = paginate(db.session, stmt.order_by(MeritApplication.id.desc()), args["page"], args["page_size"])
        return items, 200, pagination_header(meta)

    @authorize("scoring.merit.create")
    @blp.arguments(MeritIn)
    @idempotent("scoring.merit")
    @blp.response(201, MeritOut)
    def post(self, data):
        """Apply for merit points by type (我要加分), with evidence uploads."""
        return merits.create(g.actor, data["merit_type"], data["description"], data["occurred_on"], data["upload_ids"])


@blp.route("/merit-types")
class MeritTypes(MethodView):
    @authorize("scoring.merit.create")
    @blp.response(200, MeritTypeOut(many=True))
    def get(self):
        """List the merit types I can apply for, with their points."""
        return merits.merit_types(db.session)
