"""/me/checkin-schedule and /me/checkins: the subject's check-ins (报到打卡)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.db import db
from backend.services import checkins
from mobile_api.idempotent import idempotent
from mobile_api.pagination import paginate, pagination_header
from mobile_api.schemas.activities import CheckInIn, CheckInOut, CheckInQuery, ScheduleOut
from mobile_api.security import authorize

blp = Blueprint("me_checkins", __name__, url_prefix="/api/v1/me", description="报到打卡 My check-ins")
#: idempotency scope, shared with /me/sync so an item sent either way is created once
SCOPE = "checkin"
#: a check-in finds its own retry by (subject, client id) and writes nothing then: no claim before the create
CLAIM_FIRST = False


@blp.route("/checkin-schedule")
class Schedule(MethodView):
    @authorize("checkin.self")
    @blp.response(200, ScheduleOut)
    def get(self):
        """Show my current period, its due time, my interval and why, and any period still open for a late check-in."""
        return checkins.schedule(g.actor)


@blp.route("/checkins")
class CheckIns(MethodView):
    @authorize("checkin.self")
    @blp.arguments(CheckInQuery, location="query")
    @blp.response(200, CheckInOut(many=True))
    def get(self, args):
        """List my check-ins, newest first, with their period and outcome."""
        items, meta = paginate(db.session, checkins.list_query(g.actor, args), args["page"], args["page_size"])
        return items, 200, pagination_header(meta)

    @idempotent(SCOPE, claim_first=CLAIM_FIRST)
    @authorize("checkin.self")
    @blp.arguments(CheckInIn)
    @blp.response(201, CheckInOut)
    def post(self, data):
        """Check in with a selfie (upload id), GPS and capture time; counted once the photo is checked."""
        return checkins.create(g.actor, data)


@blp.route("/checkins/<int:checkin_id>")
class CheckInById(MethodView):
    @authorize("checkin.self")
    @blp.response(200, CheckInOut)
    def get(self, checkin_id):
        """Show one of my check-ins (its placement follows the photo's verdict: poll while ``pending``)."""
        return checkins.get_own(g.actor, checkin_id)
