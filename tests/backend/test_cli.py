"""The ``zhijiao`` command as a user runs it (subprocesses on a fresh database), and the README's promises."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from backend import config
from backend.cli.main import main
from tests import backends
from tests.api.test_ops import ZHIJIAO, free_port, http, served
from tests.conftest import ROOT, wait_for

DEMO_PASSWORD = "Demo#2026"
DEMO_ROLES = {
    "subject1": "subject",
    "grid1": "grid_worker",
    "officer1": "officer",
    "bureau1": "bureau",
    "admin1": "admin",
    "officer2": "officer",
    "grid2": "grid_worker",
}
README = (ROOT / "README.md").read_text()


def zhijiao(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [ZHIJIAO, *args],
        env={**os.environ, **env},
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, f"zhijiao {' '.join(args)}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _report(out: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^(\w+): (\d+)$", out, re.MULTILINE)}


@pytest.fixture(scope="module")
def cli_env(test_env, instance_dir):
    """The session's test environment with a database of its own, created empty for this module."""
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    pg = backends.postgres_base()
    url = backends.fresh_postgres_db(pg, f"zhijiao_cli_{tag}") if pg else f"sqlite:///{instance_dir}/cli_{tag}.sqlite3"
    # a queue of its own, and no login rate limit left over from other tests on the same Redis
    env = {**test_env, "DATABASE_URL": url, "QUEUE_PREFIX": f"cli{tag}-", "RATE_LIMIT_LOGIN_PER_MINUTE": "1000"}
    yield env
    if pg:
        backends.drop_postgres_db(pg, url.rsplit("/", 1)[1])


@pytest.fixture(scope="module")
def seeded(cli_env):
    """``zhijiao db upgrade`` then a first ``zhijiao seed-demo`` on the empty database; the seed's report."""
    out = zhijiao(cli_env, "db", "upgrade")
    assert "database at head" in out.stdout
    return _report(zhijiao(cli_env, "seed-demo").stdout)


def _row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            names = inspect(conn).get_table_names()
            return {n: conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one() for n in names}
    finally:
        engine.dispose()


def _sa_url(env: dict[str, str]) -> str:
    return config.load_settings(env).database_url


def test_help_lists_every_command(cli_env):
    out = zhijiao(cli_env, "--help").stdout
    for command in ("db", "seed-demo", "create-user", "audit", "worker", "cron", "serve", "run"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), command
    assert "upgrade" in zhijiao(cli_env, "db", "--help").stdout


def test_seed_demo_creates_the_demo_data_set(seeded, cli_env):
    assert seeded["created"] > 0
    assert seeded["subjects"] == 50
    counts = _row_counts(_sa_url(cli_env))
    assert counts["subjects"] == 50
    assert counts["org_units"] == 1 + 1 + 1 + 2 + 4  # province, city, district, offices, grids
    assert counts["public_credit_bases"] > 0
    engine = create_engine(_sa_url(cli_env))
    try:
        with engine.connect() as conn:  # varied levels, types and dates
            for column in ("supervision_level", "risk_level", "correction_type", "start_date", "end_date"):
                assert conn.execute(text(f"SELECT count(DISTINCT {column}) FROM subjects")).scalar_one() >= 3, column
            provincial = text("SELECT count(DISTINCT provincial_score) FROM public_credit_bases")
            assert conn.execute(provincial).scalar_one() >= 3
    finally:
        engine.dispose()


def test_seed_demo_is_idempotent(seeded, cli_env):
    url = _sa_url(cli_env)
    before = _row_counts(url)
    again = _report(zhijiao(cli_env, "seed-demo").stdout)
    assert again["created"] == 0
    assert again["subjects"] == seeded["subjects"] == 50
    assert _row_counts(url) == before  # every table, the audit log included


def test_audit_chain_is_intact_after_the_seed(seeded, cli_env):
    out = zhijiao(cli_env, "audit", "verify").stdout
    rows = int(re.search(r"audit chain intact: (\d+) rows", out).group(1))
    assert rows >= 1  # the seed's own bulk row at least


@pytest.mark.slow
def test_demo_logins_work_over_http(seeded, cli_env, tmp_path):
    with served(cli_env, tmp_path / "gunicorn.log", workers=1) as (base, _proc):
        tokens = {}
        for username, role in DEMO_ROLES.items():
            body = {"username": username, "password": DEMO_PASSWORD, "device_id": "cli-test"}
            status, _, raw = http("POST", base + "/api/v1/auth/login", body)
            assert status == 200, (username, raw)
            tokens[username] = json.loads(raw)["access_token"]
            status, _, raw = http("GET", base + "/api/v1/me", headers={"Authorization": "Bearer " + tokens[username]})
            assert status == 200 and json.loads(raw)["role"] == role, (username, raw)
        wrong = {"username": "officer1", "password": "not the password", "device_id": "cli-test"}
        assert http("POST", base + "/api/v1/auth/login", wrong)[0] == 401
        # jurisdiction: the bureau sees the whole district, each officer one of its two offices
        seen = {}
        for username in ("bureau1", "officer1", "officer2"):
            status, headers, _ = http(
                "GET", base + "/api/v1/staff/subjects", headers={"Authorization": "Bearer " + tokens[username]}
            )
            assert status == 200
            seen[username] = json.loads(headers["X-Pagination"])["total"]
        assert seen["bureau1"] == 50
        assert seen["officer1"] + seen["officer2"] == 50 and seen["officer1"] > 0 and seen["officer2"] > 0


def test_create_user(seeded, cli_env, tmp_path):
    password = "Cli#user-2026"
    args = ("create-user", "--username", "cli_officer", "--role", "officer", "--unit", "ZJ-HZ-FY-FC")
    out = zhijiao(cli_env, *args, "--display-name", "命令行", "--password", password).stdout
    assert re.search(r"created user \d+ cli_officer \(officer\)", out)
    again = zhijiao(cli_env, *args, "--password", password, check=False)
    assert again.returncode != 0 and "USERNAME_TAKEN" in again.stderr
    bad_unit = zhijiao(cli_env, "create-user", "--username", "x1", "--role", "officer", "--unit", "NOPE",
                       "--password", password, check=False)  # fmt: skip
    assert bad_unit.returncode != 0 and "NOPE" in bad_unit.stderr
    wrong_level = zhijiao(cli_env, "create-user", "--username", "x2", "--role", "officer", "--unit", "ZJ-HZ-FY",
                          "--password", password, check=False)  # fmt: skip
    assert wrong_level.returncode != 0 and "ORG_UNIT_INVALID" in wrong_level.stderr
    assert zhijiao(cli_env, "audit", "verify").returncode == 0  # the new user's audit row chains on
    with served(cli_env, tmp_path / "gunicorn.log", workers=1) as (base, _proc):
        body = {"username": "cli_officer", "password": password, "device_id": "cli-test"}
        status, _, raw = http("POST", base + "/api/v1/auth/login", body)
        assert status == 200, raw
        assert json.loads(raw)["user"]["role"] == "officer"


def _children_of(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


@pytest.mark.slow
def test_run_serves_docs_with_a_worker_and_cron_and_ctrl_c_stops_them_all(seeded, cli_env, tmp_path):
    port = free_port()
    env = {**os.environ, **cli_env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "1"}
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [ZHIJIAO, "run", "--no-seed"], env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
        try:
            wait_for(lambda: proc.poll() is not None or "Ctrl-C stops everything" in log.read_text(), timeout=90)
            assert proc.poll() is None, log.read_text()[-3000:]
            assert http("GET", f"http://127.0.0.1:{port}/docs")[0] == 200
            children = _children_of(proc.pid)
            assert len(children) >= 3, children  # api, worker, cron
            proc.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the foreground process
            assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text_out = log.read_text()
    assert "officer1" in text_out and "stopped: api, worker, cron" in text_out
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert alive == [], alive


def test_seed_demo_refuses_production(cli_env):
    env = {**cli_env, "ZHIJIAO_ENV": "production"}
    proc = zhijiao(env, "seed-demo", check=False)
    assert proc.returncode != 0
    assert "production" in proc.stderr  # either the missing production settings or the refusal itself


# --- the README ---------------------------------------------------------------------------------------


def _readme_table_variables() -> set[str]:
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", README, re.MULTILINE))


def test_readme_documents_every_environment_variable():
    documented = _readme_table_variables()
    missing = set(config._ENV_MAP.values()) - documented
    assert not missing, f"README.md lacks {sorted(missing)}: run `make readme`"
    extra = (config.KNOWN_VARIABLES | {"TEST_DATABASE_URL", "TEST_REDIS_URL"}) - documented
    assert not extra, f"README.md's table lacks {sorted(extra)}"
    assert config.variables_table() in README, "README.md is out of date: run `make readme`"


def test_readme_names_the_cli_commands_and_demo_logins():
    for name in main.commands:
        assert f"`zhijiao {name}" in README, name
    for username in DEMO_ROLES:
        assert f"`{username}`" in README, username
    assert DEMO_PASSWORD in README
    assert "make run" in README and "make test" in README
