"""The staff lists: pages of multi-column rows, CSV exports (streamed, IDs masked, audited), and 406 where a
list has no CSV form (``refuse_csv``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flask import Flask, Response, g, request
from sqlalchemy import Select, func, select

from backend.db import db
from backend.errors import DomainError
from backend.models import Subject
from backend.services.core import audit, crypto
from backend.services.subjects import idcard
from mobile_api.http.errors import respond
from mobile_api.http.pagination import CSV_MAX_ROWS, csv_stream, page_meta, prefers_csv


def masked(id_number_enc: str | None) -> str:
    """The subject's 身份证号 masked (330***********123X); never the plain number."""
    return idcard.mask(crypto.decrypt(id_number_enc)) if id_number_enc else ""


def export(stmt: Select, row_to_dict: Callable, name: str, fieldnames: list[str], filters: dict) -> Response:
    """Stream every row of ``stmt`` (up to CSV_MAX_ROWS) as CSV, with the subject's masked ID number."""
    with db.tx() as s:
        shown = {k: str(v) for k, v in filters.items() if v is not None and k not in ("page", "page_size")}
        audit.record(s, f"{name}.export", actor=g.actor, target_type=name, details={"filters": shown})
    query = stmt.add_columns(Subject.id_number_enc.label("_id_enc")).limit(CSV_MAX_ROWS)

    def rows() -> Iterator[dict]:
        for row in db.session.execute(query.execution_options(yield_per=500)):
            yield {**row_to_dict(row), "id_number_masked": masked(row._id_enc)}

    return csv_stream(rows(), name, ["id_number_masked", *fieldnames])


def export_objects(stmt: Select, dump: Callable, name: str, fieldnames: list[str], filters: dict) -> Response:
    """Stream the objects of ``stmt`` (up to CSV_MAX_ROWS) as CSV, each row made by ``dump``; the export is audited."""
    with db.tx() as s:
        shown = {k: str(v) for k, v in filters.items() if v is not None and k not in ("page", "page_size")}
        audit.record(s, f"{name}.export", actor=g.actor, target_type=name, details={"filters": shown})
    query = stmt.limit(CSV_MAX_ROWS).execution_options(yield_per=500)

    def rows() -> Iterator[dict]:  # runs while the response streams, not before
        for obj in db.session.scalars(query):
            yield dump(obj)

    return csv_stream(rows(), name, fieldnames)


def page_rows(stmt: Select, page: int, page_size: int) -> tuple[list, dict]:
    """One page of result rows (not only their first column) and the X-Pagination metadata."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.session.execute(stmt.limit(page_size).offset((page - 1) * page_size)).all()
    return rows, page_meta(total, page, page_size)


def _csv_only() -> bool:
    """The client asks for CSV and does not accept JSON at all (``Accept: text/csv``)."""
    return prefers_csv() and request.accept_mimetypes.quality("application/json") == 0


def refuse_csv(app: Flask) -> None:
    """Answer ``Accept: text/csv`` with 406 NOT_ACCEPTABLE where the endpoint has no CSV form.

    A write never answers CSV, so it is refused before it runs; a read is refused when its view did not ask
    ``wants_csv()`` (the lists with a CSV form do) and was about to answer JSON. A client that also accepts
    JSON (``text/csv, application/json;q=0.5``) gets JSON.
    """

    @app.before_request
    def _refuse_csv_write():
        if request.path.startswith("/api/") and request.method not in ("GET", "HEAD") and _csv_only():
            raise DomainError("NOT_ACCEPTABLE", context={"accept": "text/csv", "available": ["application/json"]})

    @app.after_request
    def _refuse_csv_read(resp: Response) -> Response:
        if (
            request.path.startswith("/api/")
            and resp.status_code < 300
            and resp.mimetype == "application/json"
            and not g.get("csv_form")
            and _csv_only()
        ):
            refusal = respond("NOT_ACCEPTABLE", context={"accept": "text/csv", "available": ["application/json"]})
            resp.set_data(refusal.get_data())  # the same response object: the other hooks' headers stay
            resp.status_code = refusal.status_code
            resp.headers.pop("X-Pagination", None)
        return resp
