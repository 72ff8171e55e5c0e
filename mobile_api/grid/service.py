"""/grid/service-reports: community service a grid worker observed in the field (counts as witnessed)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.services.activities import service
from mobile_api.common.records import ServiceOut
from mobile_api.grid.schemas import GridServiceIn
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.idempotent import idempotent
from mobile_api.http.security import authorize

blp = Blueprint("grid_service", __name__, url_prefix="/api/v1/grid", description="网格员 Observed community service")


@blp.route("/service-reports")
class ObservedService(MethodView):
    @authorize("service.observe")
    @blp.arguments(GridServiceIn)
    @idempotent("grid.service_report")
    @blp.response(201, ServiceOut)
    def post(self, data):
        """Report community service observed for a subject of my grids; an officer still verifies it."""
        return service.create_observed(g.actor, data)
