"""A small SQLAlchemy 2 pager with the X-Pagination header, and CSV output for staff lists."""

from __future__ import annotations

import csv
import io
import json

from flask import Response, request
from marshmallow import Schema, fields, validate
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))


def paginate(session: Session, stmt: Select, page: int, page_size: int) -> tuple[list, dict]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = list(session.scalars(stmt.limit(page_size).offset((page - 1) * page_size)))
    pages = (total + page_size - 1) // page_size
    meta = {"total": total, "total_pages": pages, "page": page, "page_size": page_size}
    if page > 1:
        meta["previous_page"] = page - 1
    if page < pages:
        meta["next_page"] = page + 1
    return items, meta


def pagination_header(meta: dict) -> dict:
    return {"X-Pagination": json.dumps(meta)}


def wants_csv() -> bool:
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


def csv_response(rows: list[dict], filename: str) -> Response:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        for r in rows:
            writer.writerow(
                {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v) for k, v in r.items()}
            )
    return Response(
        "\ufeff" + buf.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )
