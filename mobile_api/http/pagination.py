"""A small SQLAlchemy 2 pager with the X-Pagination header, and CSV output for staff lists.

CSV cells are written as the JSON body writes them: timestamps ISO 8601 with their offset
(``2026-12-10T05:04:28.946780+00:00``), dates ISO 8601, booleans ``true``/``false``, null as an empty cell.
A list without a CSV form answers ``Accept: text/csv`` with 406 NOT_ACCEPTABLE (``exports.refuse_csv``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime

from flask import Response, g, request, stream_with_context
from marshmallow import Schema, fields, validate
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

#: a CSV export carries every matching row, up to this many
CSV_MAX_ROWS = 50_000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))


def paginate(session: Session, stmt: Select, page: int, page_size: int) -> tuple[list, dict]:
    """One page of ``stmt`` and the X-Pagination metadata (total, pages, neighbours)."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = list(session.scalars(stmt.limit(page_size).offset((page - 1) * page_size)))
    return items, page_meta(total, page, page_size)


def page_meta(total: int, page: int, page_size: int) -> dict:
    """The X-Pagination metadata of a page of ``total`` matching items (total, pages, neighbours)."""
    pages = (total + page_size - 1) // page_size
    meta = {"total": total, "total_pages": pages, "page": page, "page_size": page_size}
    if page > 1:
        meta["previous_page"] = page - 1
    if page < pages:
        meta["next_page"] = page + 1
    return meta


def pagination_header(meta: dict) -> dict:
    """The X-Pagination header as flask-smorest documents it."""
    return {"X-Pagination": json.dumps(meta)}


def prefers_csv() -> bool:
    """True when the client prefers text/csv to JSON."""
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


def wants_csv() -> bool:
    """True when the client prefers text/csv to JSON; calling it says that this endpoint has a CSV form."""
    g.csv_form = True
    return prefers_csv()


def csv_value(value: object) -> object:
    """A cell as the JSON body would write it (see the module docstring)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _cell(value: object) -> object:
    value = csv_value(value)
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # a spreadsheet must not run a cell as a formula
    return value


def csv_stream(rows: Iterable[dict], filename: str, fieldnames: list[str]) -> Response:
    """UTF-8 CSV with a BOM (so Excel reads Chinese), one header row, formula-looking cells defused; streamed:
    rows are written out as they are read, so a list of any length costs no more memory than a chunk."""

    def generate():
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fieldnames, extrasaction="ignore")
        buf.write("\ufeff")
        writer.writeheader()
        for i, r in enumerate(rows, 1):
            writer.writerow({k: _cell(v) for k, v in r.items()})
            if i % 500 == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )
