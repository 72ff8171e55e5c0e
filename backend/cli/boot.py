"""What every ``zhijiao`` command does first: settings, logging, the instance folder, the database."""

from __future__ import annotations

import click

from backend import runtime
from backend.config import ConfigError, Settings, load_settings
from backend.db import db


def boot() -> Settings:
    """Load the settings, configure logging, create the instance folder and open the database."""
    from backend.logs import configure_logging

    try:
        settings = runtime.configure(load_settings())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(settings.log_level)
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    db.init(settings.database_url)
    return settings
