"""/staff/suggestions: precision-correction suggestions (精准矫正建议) to accept, dismiss or complete."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.db import db
from backend.models import Subject, utcnow
from backend.models.field import Suggestion
from backend.services.suggestions import engine
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.exports import export, page_rows
from mobile_api.http.pagination import pagination_header, wants_csv
from mobile_api.http.security import authorize
from mobile_api.staff.oversight_schemas import SuggestionActIn, SuggestionOut, SuggestionQuery

blp = Blueprint(
    "staff_suggestions", __name__, url_prefix="/api/v1/staff/suggestions", description="精准矫正建议 Suggestions"
)
_COLUMNS = [c.key for c in Suggestion.__table__.columns]
_CSV_FIELDS = [f for f in SuggestionOut().fields if f != "rationale"] + ["summary"]


def view(sug: Suggestion, subject_name: str | None = None) -> dict:
    out = {k: getattr(sug, k) for k in _COLUMNS}
    if subject_name is None:
        subject_name = db.session.get(Subject, sug.subject_id).name
    live = sug.status in engine.LIVE
    out.update(subject_name=subject_name, overdue=live and sug.due_at < utcnow(), summary=sug.rationale.get("summary"))
    return out


@blp.route("")
class Suggestions(MethodView):
    @authorize("suggestion.read")
    @blp.arguments(SuggestionQuery, location="query")
    @blp.response(200, SuggestionOut(many=True))
    def get(self, args):
        """List suggestions: live first, high priority first, by due time; filter by status, category, kind, dates."""
        stmt = engine.list_query(g.actor, args)
        if wants_csv():
            return export(stmt, lambda r: view(r[0], r[1]), "suggestions", _CSV_FIELDS, args)
        items, meta = page_rows(stmt, args["page"], args["page_size"])
        return [view(s, name) for s, name in items], 200, pagination_header(meta)


@blp.route("/<int:suggestion_id>")
class SuggestionById(MethodView):
    @authorize("suggestion.read")
    @blp.response(200, SuggestionOut)
    def get(self, suggestion_id):
        """Show one suggestion with its rationale and linked evidence."""
        return view(engine.get(g.actor, suggestion_id))

    @authorize("suggestion.act")
    @blp.arguments(SuggestionActIn)
    @blp.response(200, SuggestionOut)
    def post(self, data, suggestion_id):
        """Accept, dismiss (reason code) or mark done (outcome code); the same action again changes nothing."""
        sug = engine.act(
            g.actor, suggestion_id, data["action"], reason=data["reason"], outcome=data["outcome"], note=data["note"]
        )
        return view(sug)
