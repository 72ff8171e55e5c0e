"""/staff/dashboard: the 驾驶舱 — subjects by grade and colour, scores, trend, work, warnings, suggestions."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.services.oversight import dashboard
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.security import authorize
from mobile_api.staff.oversight_schemas import DashboardOut, DashboardQuery

blp = Blueprint("staff_dashboard", __name__, url_prefix="/api/v1/staff/dashboard", description="驾驶舱 Dashboard")


@blp.route("")
class Dashboard(MethodView):
    @authorize("dashboard.read")
    @blp.arguments(DashboardQuery, location="query")
    @blp.response(200, DashboardOut)
    def get(self, args):
        """Show the counts of my jurisdiction (or one office of it), per office, from aggregate queries; ``as_of``
        is when they were counted (each office's counts are reused for DASHBOARD_CACHE_SECONDS)."""
        return dashboard.cached(g.actor, args["office_id"])
