"""Which database and Redis a test run uses: the embedded stack, or TEST_DATABASE_URL / TEST_REDIS_URL."""

from __future__ import annotations

import os
import re

import psycopg


def worker_index() -> int:
    wid = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    m = re.search(r"(\d+)$", wid)
    return int(m.group(1)) if m else 0


def postgres_base() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


def redis_base() -> str | None:
    return os.environ.get("TEST_REDIS_URL") or None


def fresh_postgres_db(base: str, name: str) -> str:
    """Drop and create database ``name`` on the server of ``base``; return its SQLAlchemy URL."""
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    admin_url = plain.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return plain.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"


def redis_db_url(base: str, index: int) -> str:
    """One Redis database number per xdist worker (1–15), so parallel workers do not share keys."""
    return re.sub(r"(/\d+)?$", f"/{1 + index % 15}", base.rstrip("/"), count=1)


def drop_postgres_db(base: str, name: str) -> None:
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
