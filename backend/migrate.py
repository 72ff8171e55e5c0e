"""Run Alembic from code (the CLI's ``db upgrade`` and the tests)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin, every run


def alembic_config(database_url: str) -> Config:
    """The repository's alembic.ini, pointed at ``database_url``."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database at ``database_url`` up to ``revision`` (a no-op when it is there already)."""
    command.upgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raise if the models and the migrations disagree (alembic's own autogenerate comparison)."""
    command.check(alembic_config(database_url))
