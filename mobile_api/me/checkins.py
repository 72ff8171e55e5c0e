"""/me/checkin-schedule and /me/checkins: the subject's check-ins (报到打卡)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.db import db
from backend.services.activities import checkins
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.pagination import paginate, pagination_header
from mobile_api.http.security import authorize
from mobile_api.me.schemas import CheckInIn, CheckInOut, CheckInQuery, ScheduleOut

blp = Blueprint("me_checkins", __name__, url_prefix="/api/v1/me", description="报到打卡 My check-ins")


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

    @authorize("checkin.self")
    @blp.arguments(CheckInIn)
    @blp.response(201, CheckInOut)
    def post(self, data):
        """Check in with a selfie (upload id), GPS and capture time; counted once the photo is checked.

        Idempotent on ``client_id`` (shared with /me/sync): a retry is answered 200 with the first answer and
        ``Idempotent-Replayed: true``; the same client_id with another photo, place or time is 409.
        """
        view, replayed = checkins.submit(g.actor, data)
        return (view, 200, {"Idempotent-Replayed": "true"}) if replayed else view


@blp.route("/checkins/<int:checkin_id>")
class CheckInById(MethodView):
    @authorize("checkin.self")
    @blp.response(200, CheckInOut)
    def get(self, checkin_id):
        """Show one of my check-ins (its placement follows the photo's verdict: poll while ``pending``)."""
        return checkins.get_own(g.actor, checkin_id)
