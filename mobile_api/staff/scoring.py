"""/staff score work: a subject's score, appeals, merit applications, adjustments, employment, release."""

from __future__ import annotations

from flask import Response, g
from flask.views import MethodView

from backend.db import db
from backend.services.identity import access
from backend.services.scoring import adjustments, appeals, employment, merits, read, release
from backend.services.scoring.adjustments import ADJUSTMENT_STATES
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
    status_query,
)
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.exports import export_objects
from mobile_api.http.idempotent import idempotent
from mobile_api.http.pagination import paginate, pagination_header, wants_csv
from mobile_api.http.security import authorize
from mobile_api.staff.schemas import (
    AdjustmentIn,
    AdjustmentOut,
    AppealDecisionIn,
    ApproveIn,
    EmploymentIn,
    EmploymentOut,
    ExportFileOut,
    ExportHandoverIn,
    ExportHandoverOut,
    ReleaseIn,
    ReleaseOut,
)

AdjustmentStatusQuery = status_query(ADJUSTMENT_STATES, "AdjustmentStatusQuery")
blp = Blueprint("staff_scoring", __name__, url_prefix="/api/v1/staff", description="信用矫正分 Scores (staff)")


def _subject(subject_id: int):
    return access.get_subject(db.session, g.actor, subject_id)


def _listing(stmt, args, schema, name):
    if wants_csv():
        out = schema()
        return export_objects(stmt, out.dump, name, list(out.dump_fields), args)
    items, meta = paginate(db.session, stmt, args["page"], args["page_size"])
    return items, 200, pagination_header(meta)


@blp.route("/subjects/<int:subject_id>/score")
class SubjectScore(MethodView):
    @authorize("scoring.read")
    @blp.response(200, ScoreOut)
    def get(self, subject_id):
        """Show a subject's score with every dimension explained."""
        return read.view(_subject(subject_id))


@blp.route("/subjects/<int:subject_id>/score/history")
class SubjectScoreHistory(MethodView):
    @authorize("scoring.read")
    @blp.arguments(HistoryQuery, location="query")
    @blp.response(200, HistoryOut)
    def get(self, args, subject_id):
        """Show a subject's daily totals and dated changes (the trend)."""
        return read.history(_subject(subject_id), args["date_from"], args["date_to"])


@blp.route("/subjects/<int:subject_id>/score/events")
class SubjectScoreEvents(MethodView):
    @authorize("scoring.read")
    @blp.arguments(EventQuery, location="query")
    @blp.response(200, EventOut(many=True))
    def get(self, args, subject_id):
        """List a subject's scoring events, newest first (CSV with Accept: text/csv)."""
        stmt = read.events_query(_subject(subject_id).id, args)
        if wants_csv():
            out = EventOut()

            def dump(event) -> dict:
                return out.dump(read.event_out(db.session, [event])[0])

            return export_objects(stmt, dump, "score_events", list(out.dump_fields), {**args, "subject_id": subject_id})
        items, meta = paginate(db.session, stmt, args["page"], args["page_size"])
        return read.event_out(db.session, items), 200, pagination_header(meta)


@blp.route("/subjects/<int:subject_id>/employment")
class Employment(MethodView):
    @authorize("scoring.employment")
    @blp.arguments(EmploymentIn)
    @idempotent("scoring.employment")
    @blp.response(201, EmploymentOut)
    def post(self, data, subject_id):
        """Verify a subject's job or study (emits EMPLOYMENT_VERIFIED once per job or enrolment)."""
        return employment.verify(g.actor, subject_id, data)


@blp.route("/subjects/<int:subject_id>/adjustments")
class Adjustments(MethodView):
    @authorize("scoring.adjust.propose")
    @blp.arguments(AdjustmentIn)
    @idempotent("scoring.adjustment")
    @blp.response(201, AdjustmentOut)
    def post(self, data, subject_id):
        """Propose a manual score correction; a bureau user approves it."""
        return adjustments.propose(g.actor, subject_id, data)


@blp.route("/adjustments")
class AdjustmentList(MethodView):
    @authorize("scoring.adjust.list")
    @blp.arguments(AdjustmentStatusQuery, location="query")
    @blp.response(200, AdjustmentOut(many=True))
    def get(self, args):
        """List manual score corrections in my jurisdiction (CSV with Accept: text/csv)."""
        return _listing(adjustments.list_query(g.actor, args["status"]), args, AdjustmentOut, "adjustments")


@blp.route("/adjustments/<int:adjustment_id>/decision")
class AdjustmentDecision(MethodView):
    @authorize("scoring.adjust.decide")
    @blp.arguments(ApproveIn)
    @blp.response(200, AdjustmentOut)
    def post(self, data, adjustment_id):
        """Approve (emits MANUAL_ADJUSTMENT naming both people) or reject a proposed correction."""
        return adjustments.decide(g.actor, adjustment_id, data["decision"], data["note"])


@blp.route("/appeals")
class AppealList(MethodView):
    @authorize("scoring.appeal.decide")
    @blp.arguments(AppealStatusQuery, location="query")
    @blp.response(200, AppealOut(many=True))
    def get(self, args):
        """List appeals in my jurisdiction, pending ones by due time (CSV with Accept: text/csv)."""
        return _listing(appeals.list_query(g.actor, args["status"]), args, AppealOut, "appeals")


@blp.route("/appeals/<int:appeal_id>/decision")
class AppealDecision(MethodView):
    @authorize("scoring.appeal.decide")
    @blp.arguments(AppealDecisionIn)
    @blp.response(200, AppealOut)
    def post(self, data, appeal_id):
        """Uphold (revoke the event) or dismiss (with a reason) an appeal routed to me."""
        return appeals.decide(g.actor, appeal_id, data["decision"], data["note"])


@blp.route("/merit-applications")
class MeritList(MethodView):
    @authorize("scoring.merit.decide")
    @blp.arguments(MeritStatusQuery, location="query")
    @blp.response(200, MeritOut(many=True))
    def get(self, args):
        """List merit applications in my jurisdiction (CSV with Accept: text/csv)."""
        return _listing(merits.list_query(g.actor, args["status"]), args, MeritOut, "merit_applications")


@blp.route("/merit-applications/<int:application_id>/decision")
class MeritDecision(MethodView):
    @authorize("scoring.merit.decide")
    @blp.arguments(ApproveIn)
    @blp.response(200, MeritOut)
    def post(self, data, application_id):
        """Approve (emits the MERIT_* event) or reject a merit application routed to me."""
        return merits.decide(g.actor, application_id, data["decision"], data["note"])


@blp.route("/subjects/<int:subject_id>/release")
class Release(MethodView):
    @authorize("scoring.release")
    @blp.arguments(ReleaseIn)
    @blp.response(200, ReleaseOut)
    def post(self, data, subject_id):
        """Release the subject (解矫): freeze the score and write the export record (a repeat returns it)."""
        return release.release(g.actor, subject_id, data["note"])


@blp.route("/subjects/<int:subject_id>/export")
class Export(MethodView):
    @authorize("scoring.export")
    @blp.response(200, ReleaseOut)
    def get(self, subject_id):
        """Get the release export record (JSON) for the provincial platform."""
        return release.export(g.actor, subject_id)


@blp.route("/subjects/<int:subject_id>/export/file")
class ExportFile(MethodView):
    @authorize("scoring.export.file")
    @blp.response(200, ExportFileOut, content_type="application/json")
    def get(self, subject_id):
        """Download the signed release export file for the provincial platform (an attachment; audited).

        The record's `subject.id_number_sealed` holds the full ID number sealed to the platform's key; the
        signature covers the record (docs/score.md#release-and-export). `X-Content-SHA256` is the file's digest.
        """
        out = release.export_file(g.actor, subject_id)
        return Response(
            out.body,
            mimetype="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="{out.filename}"',
                "X-Content-SHA256": out.sha256,
                "Cache-Control": "no-store",
            },
        )


@blp.route("/subjects/<int:subject_id>/export/handover")
class ExportHandover(MethodView):
    @authorize("scoring.export.handover")
    @blp.arguments(ExportHandoverIn)
    @blp.response(200, ExportHandoverOut)
    def post(self, data, subject_id):
        """Record the export file's handover to the provincial platform (who, when, which file; audited).

        Recording it again with the same reference changes nothing; other details afterwards are 409.
        """
        return release.handover(g.actor, subject_id, data)
