"""The ``zhijiao`` command: database, demo data, users, audit, and the API, worker and cron processes.

Processes are started by name (gunicorn's ``mobile_api.wsgi:app``, ``rq worker``, ``rq cron
workers.cron_config``), so this module does not import the HTTP or worker packages.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from backend import runtime
from backend.config import ConfigError, load_settings
from backend.db import db


def _boot():
    try:
        settings = runtime.configure(load_settings())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    db.init(settings.database_url)
    return settings


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


@click.group()
def main() -> None:
    """智矫 zhijiao: community-corrections server."""


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations."""
    from backend.migrate import upgrade

    settings = _boot()
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}")


@db_group.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    from backend.migrate import check

    check(_boot().database_url)
    click.echo("models and migrations agree")


@main.command("seed-demo")
@click.option("--subjects", default=50, show_default=True)
def seed_demo(subjects: int) -> None:
    """Load the demo data set (embedded default only; idempotent)."""
    settings = _boot()
    if settings.env == "production":
        raise click.ClickException("demo data is for the embedded default, not production")
    from backend.services import demo

    click.echo(demo.seed(subjects))


@main.command("create-user")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(["grid_worker", "officer", "bureau", "admin"]))
@click.option("--unit", "units", multiple=True, type=int, help="org unit id (repeat for several)")
@click.option("--display-name", default="")
@click.password_option()
def create_user(username: str, role: str, units: tuple[int, ...], display_name: str, password: str) -> None:
    """Create a staff or admin account."""
    from backend.errors import DomainError
    from backend.services.users import create_user_cli

    _boot()
    try:
        user = create_user_cli(
            {
                "username": username,
                "password": password,
                "role": role,
                "display_name": display_name,
                "unit_ids": list(units),
            }
        )
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.errors or ''}") from exc
    click.echo(f"created user {user.id} {user.username} ({user.role})")


@main.group("audit")
def audit_group() -> None:
    """Audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Verify the HMAC chain; exit 1 naming the first broken row."""
    from backend.services import audit

    _boot()
    session = db.new_session()
    try:
        result = audit.verify(session)
    finally:
        session.close()
    if result.ok:
        click.echo(f"audit chain intact: {result.rows} rows")
        return
    click.echo(
        f"audit chain BROKEN at row {result.broken_id}: {result.reason} ({result.rows} rows verified before it)",
        err=True,
    )
    sys.exit(1)


def _child_env(settings) -> dict:
    from backend.redis_conn import redis_url

    env = dict(os.environ)
    env["REDIS_URL"] = redis_url()  # starts the embedded Redis in this process when none is configured
    env.setdefault("INSTANCE_DIR", str(settings.instance_dir))
    return env


@main.command("worker")
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
def worker(burst: bool) -> None:
    """Run an RQ worker (forking, JSON serializer) on the default queue."""
    settings = _boot()
    env = _child_env(settings)
    args = [
        _bin("rq"),
        "worker",
        "--serializer",
        "rq.serializers.JSONSerializer",
        "--url",
        env["REDIS_URL"],
        settings.queue_prefix + "default",
    ]
    if burst:
        args.append("--burst")
    sys.exit(subprocess.call(args, env=env))


@main.command("cron")
def cron() -> None:
    """Run the RQ cron scheduler (ticks every minute; schedules are in Asia/Shanghai)."""
    settings = _boot()
    env = _child_env(settings)
    sys.exit(subprocess.call([_bin("rq"), "cron", "--url", env["REDIS_URL"], "workers.cron_config"], env=env))


def _serve_args() -> list[str]:
    return [_bin("gunicorn"), "--config", "python:mobile_api.gunicorn_conf", "mobile_api.wsgi:app"]


def _metrics_dir(settings, env: dict) -> None:
    d = Path(env.get("PROMETHEUS_MULTIPROC_DIR") or settings.instance_dir / "metrics")
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True, exist_ok=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(d)


@main.command("serve")
def serve() -> None:
    """Serve the API with gunicorn (HOST, PORT, WEB_CONCURRENCY)."""
    settings = _boot()
    env = _child_env(settings)
    _metrics_dir(settings, env)
    sys.exit(subprocess.call(_serve_args(), env=env))


@main.command("run")
@click.option("--no-seed", is_flag=True)
def run(no_seed: bool) -> None:
    """Migrate, seed the demo, and run the API, a worker and the cron scheduler until Ctrl-C."""
    from backend.migrate import upgrade
    from backend.services import demo

    settings = _boot()
    upgrade(settings.database_url)
    if not no_seed and settings.env != "production":
        demo.seed()
    env = _child_env(settings)
    _metrics_dir(settings, env)
    py = [sys.executable, "-m", "backend.cli"]
    children = [
        subprocess.Popen(_serve_args(), env=env),
        subprocess.Popen([*py, "worker"], env=env),
        subprocess.Popen([*py, "cron"], env=env),
    ]
    port = os.environ.get("PORT", "8000")
    click.echo(f"\n  智矫 zhijiao is starting on http://127.0.0.1:{port}  (API docs: /docs)")
    if settings.env != "production":
        click.echo(
            f"  demo logins (password {settings.demo_password}): "
            "subject1, grid1, officer1, bureau1, admin1\n  Ctrl-C stops everything.\n"
        )
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.5)
    finally:
        for c in children:
            if c.poll() is None:
                c.send_signal(signal.SIGTERM)
        deadline = time.time() + 20
        for c in children:
            try:
                c.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                c.kill()
        from backend.redis_conn import stop_embedded

        stop_embedded()
        click.echo("stopped")


if __name__ == "__main__":
    main()
