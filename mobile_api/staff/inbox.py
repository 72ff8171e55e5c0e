"""/staff/inbox: everything awaiting me, overdue first.

Items are routed by role and office: docs/warnings-and-suggestions.md#inbox-routing.
"""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.db import db
from backend.services.activities import periods
from backend.services.oversight import inbox
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.exports import export
from mobile_api.http.pagination import page_meta, pagination_header, wants_csv
from mobile_api.http.security import authorize
from mobile_api.staff.oversight_schemas import InboxItemOut, InboxQuery

blp = Blueprint("staff_inbox", __name__, url_prefix="/api/v1/staff/inbox", description="待办 Inbox (staff)")
_CSV_FIELDS = [f for f in InboxItemOut().fields if f != "action"]


@blp.route("")
class Inbox(MethodView):
    @authorize("inbox.read")
    @blp.arguments(InboxQuery, location="query")
    @blp.response(200, InboxItemOut(many=True))
    def get(self, args):
        """List every item awaiting me (requests, verifications, appeals, merits, adjustments, evidence, reports,
        warnings, suggestions) with kind, subject and due time, overdue first (CSV with Accept: text/csv)."""
        now = periods.now()  # the activities' clock, which decides what is overdue (escalation)
        if wants_csv():
            stmt = inbox.list_query(g.actor, args, now=now)
            return export(stmt, lambda r: inbox.present(r, now, g.actor), "inbox", _CSV_FIELDS, args)
        page, size = args["page"], args["page_size"]
        rows, total = inbox.page(db.session, g.actor, args, page, size, now=now)
        meta = page_meta(total, page, size)
        return [inbox.present(r, now, g.actor) for r in rows], 200, pagination_header(meta)
