"""/staff/subjects: list, search and enrol (入矫); profile and recorded level/risk changes."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

from flask import Response, g
from flask.views import MethodView
from sqlalchemy import func, select

from backend.db import db
from backend.errors import DomainError
from backend.models import Subject, User
from backend.models.scoring import SubjectScore
from backend.services.core import crypto
from backend.services.identity import access
from backend.services.scoring import rules as score_rules
from backend.services.subjects import idcard, profiles
from mobile_api.common.schemas import CodeIn, SubjectOut
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.exports import page_rows
from mobile_api.http.idempotent import idempotent
from mobile_api.http.pagination import CSV_MAX_ROWS, csv_stream, pagination_header, wants_csv
from mobile_api.http.security import authorize
from mobile_api.staff.schemas import (
    ActivationCodeOut,
    EnrolIn,
    EnrolOut,
    RevealQuery,
    SubjectDetailOut,
    SubjectListOut,
    SubjectPatchIn,
    SubjectQuery,
)

blp = Blueprint(
    "staff_subjects", __name__, url_prefix="/api/v1/staff/subjects", description="矫正对象 Subjects (staff)"
)
#: rows read per round trip while a CSV export streams
CSV_CHUNK = 500


class _Listed:
    """A subject of the list with its stored score; its grade named and coloured by the rule set in force."""

    def __init__(self, subject: Subject, total: int | None, grade: str | None, base_pending: bool | None, bands):
        self._subject = subject
        band = bands.get(grade)
        self.score_total = total
        self.grade = grade
        self.grade_name = band.name if band else None
        self.colour = band.colour if band else None
        self.base_pending = base_pending

    def __getattr__(self, name: str):
        return getattr(self._subject, name)


def _bands() -> dict:
    return {b.code: b for b in score_rules.current(db.session).bands}


def _filtered(args: dict, bands: dict):
    """The subjects of my jurisdiction that match, each with its score row: one SELECT (subjects ⟕ subject_scores)."""
    stmt = (
        select(Subject, SubjectScore.total, SubjectScore.grade, SubjectScore.base_pending)
        .outerjoin(SubjectScore, SubjectScore.subject_id == Subject.id)
        .where(access.subject_scope(g.actor))
        .order_by(Subject.id)
    )
    if args["q"]:
        stmt = stmt.where(Subject.name.contains(args["q"], autoescape=True))
    if args["id_number"]:
        stmt = stmt.where(Subject.id_number_hash == crypto.lookup_hash(idcard.normalise(args["id_number"])))
    for key in ("status", "supervision_level", "risk_level", "office_id", "grid_id"):
        if args[key] is not None:
            stmt = stmt.where(getattr(Subject, key) == args[key])
    if args["grade"] is not None:
        if args["grade"] not in bands:
            raise DomainError("VALIDATION_FAILED", {"grade": [f"one of {', '.join(bands)}"]})
        stmt = stmt.where(SubjectScore.grade == args["grade"])
    if args["start_from"]:
        stmt = stmt.where(Subject.start_date >= args["start_from"])
    if args["start_to"]:
        stmt = stmt.where(Subject.start_date <= args["start_to"])
    return stmt


def _export(args: dict) -> Response:
    """Stream every match (up to CSV_MAX_ROWS, read CSV_CHUNK at a time) as CSV; the export is audited first."""
    filters = {k: str(v) for k, v in args.items() if v is not None and k not in ("page", "page_size")}
    filters.pop("id_number", None)  # never into the audit log in plain
    bands = _bands()
    stmt = _filtered(args, bands).limit(CSV_MAX_ROWS)
    count = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    profiles.record_export(g.actor, count, filters)
    out = SubjectListOut()  # the ID number masked (id_number_masked), never plain

    def rows() -> Iterator[dict]:  # runs while the response streams, in the request's session (removed after)
        for row in db.session.execute(stmt.execution_options(yield_per=CSV_CHUNK)):
            yield out.dump(_Listed(*row, bands))

    return csv_stream(rows(), "subjects", list(out.fields))


def _page(args: dict) -> tuple[list[_Listed], dict]:
    """One page of the list: a count and one SELECT of the page's subjects with their scores."""
    bands = _bands()
    rows, meta = page_rows(_filtered(args, bands), args["page"], args["page_size"])
    return [_Listed(*row, bands) for row in rows], meta


@blp.route("")
class Subjects(MethodView):
    @authorize("subject.list")
    @blp.arguments(SubjectQuery, location="query")
    @blp.response(200, SubjectListOut(many=True))
    def get(self, args):
        """List and search the subjects of my jurisdiction, each with its score total, grade and colour; filter by
        office, grid, status, supervision or risk level, grade (CSV of every match with Accept: text/csv)."""
        if wants_csv():
            return _export(args)
        items, meta = _page(args)
        return items, 200, pagination_header(meta)

    @authorize("subject.enrol")
    @blp.arguments(EnrolIn)
    @idempotent("subject.enrol")
    @blp.response(201, EnrolOut)
    def post(self, data):
        """Enrol a subject (入矫) in my office and get their one-time activation code."""
        data.pop("client_id", None)
        e = profiles.enrol(g.actor, data)
        return {
            "subject": e.subject,
            "username": e.username,
            "activation_code": e.activation_code,
            "activation_expires_at": e.activation_expires_at,
        }


@blp.route("/<int:subject_id>")
class SubjectById(MethodView):
    @authorize("subject.read")
    @blp.arguments(RevealQuery, location="query")
    @blp.response(200, SubjectDetailOut)
    def get(self, args, subject_id):
        """Show a subject's profile and recorded changes; ?reveal=id_number&purpose=… shows the ID (audited)."""
        subject = profiles.get(g.actor, subject_id)
        revealed = (
            profiles.reveal_id_number(g.actor, subject_id, args["purpose"]) if args["reveal"] == "id_number" else None
        )
        return SimpleNamespace(
            **{c.key: getattr(subject, c.key) for c in Subject.__table__.columns},
            changes=profiles.changes_of(db.session, subject.id),
            id_number=revealed,
        )

    @authorize("subject.update")
    @blp.arguments(SubjectPatchIn)
    @blp.response(200, SubjectOut)
    def patch(self, data, subject_id):
        """Change supervision level, risk level, officer, grid, phone or end date (each change recorded)."""
        reason = data.pop("reason", None)
        return profiles.update(g.actor, subject_id, data, reason)


@blp.route("/<int:subject_id>/activation-code")
class SubjectActivationCode(MethodView):
    @authorize("subject.activation_code")
    @blp.arguments(CodeIn)
    @idempotent("subject.activation_code")
    @blp.response(201, ActivationCodeOut)
    def post(self, data, subject_id):
        """Issue a new one-time activation code (the old one dies; activating with it ends every session)."""
        subject, code, expires = profiles.reissue_activation_code(g.actor, subject_id)
        username = db.session.scalar(select(User.username).where(User.id == subject.user_id))
        return {
            "subject_id": subject.id,
            "username": username,
            "activation_code": code,
            "activation_expires_at": expires,
        }
