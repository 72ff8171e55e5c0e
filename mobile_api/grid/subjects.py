"""/grid: what a grid worker (网格员) sees of the subjects in their own grids."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.db import db
from backend.models import Subject
from backend.services.identity import access
from mobile_api.grid.schemas import GridSubjectOut
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.pagination import PageArgs, paginate, pagination_header
from mobile_api.http.security import authorize

blp = Blueprint("grid", __name__, url_prefix="/api/v1/grid", description="网格员 Grid workers")


@blp.route("/subjects")
class GridSubjects(MethodView):
    @authorize("grid.subjects")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, GridSubjectOut(many=True))
    def get(self, args):
        """List the subjects in my grids, with limited fields."""
        stmt = access.scoped_subjects(g.actor).where(Subject.status == "in_correction").order_by(Subject.id)
        items, meta = paginate(db.session, stmt, args["page"], args["page_size"])
        return items, 200, pagination_header(meta)
