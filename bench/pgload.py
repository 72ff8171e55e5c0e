"""Shared helpers of the PostgreSQL benchmarks: a fresh database, COPY loading, COPY-ready timestamps."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import psycopg


def ts(at: datetime) -> str:
    """A UTC timestamp as COPY reads it."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def fresh_database(base: str, name: str) -> str:
    """Drop and create database ``name`` on the server of ``base``; return its URL."""
    admin = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + f"/{name}"


def copy_rows(cur, table: str, columns: list[str], rows: Iterable) -> int:
    """COPY ``rows`` into ``table``; return how many were written."""
    n = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n
