"""``zhijiao scores …`` and ``zhijiao credit-base import``: the score's commands (registered by backend.cli.main)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from backend.cli.boot import boot


@click.group("scores")
def scores() -> None:
    """The credit correction score."""


@scores.command("verify")
@click.option("--limit", default=50, show_default=True, help="how many differing subjects to list")
def verify(limit: int) -> None:
    """Recompute every score from the ledger and report each subject whose stored score differs (exit 1)."""
    from backend.services.scoring import recompute

    boot()
    diffs = recompute.verify()
    if not diffs:
        click.echo("all stored scores equal a recompute from the ledger")
        return
    for d in diffs[:limit]:
        click.echo(
            f"subject {d['subject_id']}: stored {d['total']} (v{d['rule_version']}), recomputed {d['expected_total']}"
        )
    click.echo(f"{len(diffs)} subject(s) differ", err=True)
    sys.exit(1)


@scores.command("recompute")
def recompute_cmd() -> None:
    """Recompute every score from the ledger now (one transaction, one audit row)."""
    from backend.services.scoring import recompute

    boot()
    click.echo(json.dumps(recompute.recompute_all()))


@scores.command("expire")
def expire_cmd() -> None:
    """Expire the events due by now (what the daily job does)."""
    from backend.services.scoring import expiry

    boot()
    click.echo(json.dumps(expiry.run_expiry()))


@click.group("credit-base")
def credit_base() -> None:
    """Provincial public credit scores (省公共信用分)."""


@credit_base.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default=None, help="default: by extension")
def import_cmd(path: Path, fmt: str | None) -> None:
    """Import one CSV (id_number, as_of, provincial_score) or JSON file: all rows or none, with a report."""
    from backend.errors import DomainError
    from backend.services.scoring import imports

    boot()
    fmt = fmt or ("json" if path.suffix.lower() == ".json" else "csv")
    try:
        rec = imports.import_bases(path.read_bytes(), fmt, filename=path.name)
    except DomainError as exc:
        click.echo(json.dumps({"code": exc.code, **(exc.errors or {})}, ensure_ascii=False), err=True)
        sys.exit(1)
    click.echo(json.dumps({"import_id": rec.id, **rec.report}, ensure_ascii=False))


def register(main: click.Group) -> None:
    main.add_command(scores)
    main.add_command(credit_base)
