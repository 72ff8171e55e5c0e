"""Dialect helpers for the field features: JSON-list membership and insert-or-skip on any unique index."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import String, Table, cast, column, exists, func, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from backend.db import is_pg


def json_list_has_any(session: Session, col, values: Sequence[str]) -> ColumnElement[bool]:
    """True where the JSON list in ``col`` holds at least one of the strings ``values``."""
    if is_pg(session):
        arr = cast(postgresql.array(list(values)), postgresql.ARRAY(String))
        return cast(col, postgresql.JSONB).op("?|")(arr)
    items = func.json_each(col).table_valued("value")
    return exists(select(literal(1)).select_from(items).where(column("value").in_(list(values))))


def json_list_has_int(session: Session, col, value: int | ColumnElement) -> ColumnElement[bool]:
    """True where the JSON list in ``col`` holds the whole number ``value`` (a number, or an integer bound
    parameter or column)."""
    if is_pg(session):
        if isinstance(value, int):
            return cast(col, postgresql.JSONB).contains([value])
        return cast(col, postgresql.JSONB).contains(func.jsonb_build_array(value))
    items = func.json_each(col).table_valued("value")
    return exists(select(literal(1)).select_from(items).where(column("value") == value))


def insert_skipping_duplicates(session: Session, table: Table, rows: list[dict], *returning) -> list:
    """INSERT … ON CONFLICT DO NOTHING (any unique index, partial ones included); the new rows' ``returning``.

    On PostgreSQL the rows travel as one JSON parameter expanded by ``jsonb_to_recordset`` (one short
    statement, however many rows); elsewhere SQLAlchemy's executemany batches them.
    """
    if not rows:
        return []
    if not is_pg(session):
        ins = sqlite.insert(table).on_conflict_do_nothing()
        return list(session.execute(ins.returning(*returning), rows).all())
    names = list(rows[0])
    cols = [table.c[n] for n in names]
    spec = ", ".join(f'"{c.name}" {_pg_type(session, c)}' for c in cols)
    source = select(*(column(n) for n in names)).select_from(
        text(f"jsonb_to_recordset(CAST(:rows AS jsonb)) AS x({spec})").bindparams(rows=_json(table, rows))
    )
    ins = postgresql.insert(table).from_select(names, source).on_conflict_do_nothing().returning(*returning)
    return list(session.execute(ins).all())


def _pg_type(session: Session, col) -> str:
    return col.type.compile(dialect=session.get_bind().dialect)


def _json(table: Table, rows: list[dict]) -> str:
    """The rows as JSON, each value as its column's type binds it (UTC times as ISO 8601 with offset)."""
    out = []
    for row in rows:
        item = {}
        for k, v in row.items():
            item[k] = v.isoformat() if isinstance(v, datetime | date) else v
        out.append(item)
    return json.dumps(out, ensure_ascii=False)
