"""/staff/uploads: review suspect evidence, and short-lived links to original photos (audited)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.services.activities import periods
from backend.services.evidence import links, review
from backend.services.oversight import escalation
from mobile_api.common.schemas import UploadOut
from mobile_api.common.uploads import absolute, present
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.security import authorize
from mobile_api.staff.schemas import OriginalOut, OriginalQuery, ReviewIn

blp = Blueprint(
    "staff_uploads", __name__, url_prefix="/api/v1/staff/uploads", description="照片证据审核 Evidence (staff)"
)


@blp.route("/<int:upload_id>/review")
class UploadReview(MethodView):
    @authorize("item.decide")
    @blp.arguments(ReviewIn)
    @blp.response(200, UploadOut)
    def post(self, data, upload_id):
        """Confirm (fraud) or clear suspect evidence, with a note; the same decision again changes nothing.

        A bureau user may review it once it is overdue (escalation, recorded with the review).
        """
        escalation.decide(
            g.actor,
            "suspect_evidence",
            upload_id,
            data["decision"],
            lambda actor: review.review(actor, upload_id, data["decision"], data["note"]),
            now=periods.now(),
        )
        return present(links.view(g.actor, upload_id))


@blp.route("/<int:upload_id>/original")
class UploadOriginal(MethodView):
    @authorize("upload.original")
    @blp.arguments(OriginalQuery, location="query")
    @blp.response(200, OriginalOut)
    def get(self, args, upload_id):
        """Get a short-lived link to the original photo; ?purpose= is required and the read is audited."""
        link = links.original_link(g.actor, upload_id, args["purpose"])
        return {**link, "url": absolute(link["url"])}
