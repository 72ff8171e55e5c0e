"""docker-compose.yml and the Dockerfile match the CLI and the settings (no Docker engine runs here)."""

from __future__ import annotations

import json
import re
import shlex
from secrets import token_urlsafe

import click
import pytest
import yaml
from cryptography.fernet import Fernet

from backend.cli import main as cli
from backend.config import KNOWN_VARIABLES, PRODUCTION_REQUIRED, S3_REQUIRED, load_settings
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
#: our own image's services: built from this repository
APP_SERVICES = sorted(name for name, svc in SERVICES.items() if "build" in svc)
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def resolve(argv: list[str]) -> click.Command:
    """The click command that ``argv`` runs; raise (click.UsageError) if it or its options do not exist."""
    assert argv[0] == "zhijiao", f"{argv}: not the zhijiao command"
    command: click.Command = cli.main
    args = list(argv[1:])
    while isinstance(command, click.Group):
        assert args, f"{argv}: the group {command.name!r} needs a subcommand"
        sub = command.get_command(click.Context(command), args[0])
        assert sub is not None, f"{argv}: no command {args[0]!r} in {sorted(command.commands)}"
        command, args = sub, args[1:]
    command.make_context(argv[-1], args)  # parses the options as the real run would
    return command


def _argv(value) -> list[str]:
    return list(value) if isinstance(value, list) else shlex.split(value)


def _environment(svc: dict) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def test_compose_has_the_stack():
    assert {"api", "worker", "cron", "migrate"} <= set(APP_SERVICES)
    images = {name: svc.get("image", "") for name, svc in SERVICES.items()}
    assert images["postgres"].startswith("postgres:")
    assert images["redis"].startswith("redis:")
    assert any(re.search(r"seaweedfs|minio", image) for image in images.values()), "no S3-compatible store"


def test_compose_commands_exist_in_the_cli():
    expected = {"api": "serve", "worker": "worker", "cron": "cron", "migrate": "upgrade"}
    for name in APP_SERVICES:
        svc = SERVICES[name]
        assert "entrypoint" not in svc, f"{name}: the image's own entry is the zhijiao command"
        command = resolve(_argv(svc["command"]))
        if name in expected:
            assert command.name == expected[name], f"{name} runs {command.name}"


def test_resolve_rejects_what_the_cli_does_not_have():
    with pytest.raises(AssertionError):
        resolve(["zhijiao", "no-such-command"])
    with pytest.raises(click.UsageError):
        resolve(["zhijiao", "worker", "--no-such-option"])


def test_compose_environment_is_known_to_the_settings():
    for name in APP_SERVICES:
        env = _environment(SERVICES[name])
        unknown = set(env) - KNOWN_VARIABLES
        assert not unknown, f"{name} sets variables the settings never read: {sorted(unknown)}"
        assert env["ZHIJIAO_ENV"] == "production"
        missing = set(PRODUCTION_REQUIRED) | set(S3_REQUIRED)
        assert missing <= set(env), f"{name} lacks {sorted(missing - set(env))}"


def test_compose_environment_is_a_valid_production_configuration():
    """With the .env placeholders filled in, the settings of every app service load without error."""
    secrets = {
        "DATA_KEY": Fernet.generate_key().decode(),
        "SECRET_KEY": token_urlsafe(32),
        "AUDIT_KEY": token_urlsafe(32),
        "EXPORT_RECIPIENT_KEY": token_urlsafe(32)[:43],  # 32 bytes of base64, as a public key is
    }
    for name in APP_SERVICES:
        env = {
            k: _INTERPOLATION.sub(lambda m: secrets.get(m.group(1), f"test-{m.group(1).lower()}"), v)
            for k, v in _environment(SERVICES[name]).items()
        }
        settings = load_settings(env)
        assert settings.env == "production" and settings.storage_backend == "s3"
        assert settings.database_url.startswith("postgresql+psycopg://")
        assert settings.redis_url == "redis://redis:6379/0"


def test_api_service_binds_all_interfaces_on_its_published_port():
    api = SERVICES["api"]
    env = _environment(api)
    assert env["HOST"] == "0.0.0.0"
    assert any(str(p).endswith(f":{env['PORT']}") for p in api["ports"])
    assert "PROMETHEUS_MULTIPROC_DIR" in env


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_runs_an_existing_cli_command_as_a_non_root_user():
    instructions = _dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    users = [args for ins, args in instructions if ins == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    cmd = [args for ins, args in instructions if ins in ("CMD", "ENTRYPOINT")]
    assert len(cmd) == 1, "one CMD, no ENTRYPOINT"
    assert resolve(json.loads(cmd[0])).name == "serve"
    env = {}
    for ins, args in instructions:
        if ins == "ENV":
            env.update(dict(pair.split("=", 1) for pair in shlex.split(args)))
    assert env["HOST"] == "0.0.0.0"
    ours = {k for k in env if not k.startswith(("PYTHON", "PIP_"))}
    assert ours <= KNOWN_VARIABLES, sorted(ours - KNOWN_VARIABLES)
    assert any(ins == "RUN" and "pip install" in args for ins, args in instructions)


def test_api_is_published_on_the_host_loopback_only():
    """The reverse proxy on the host is the way in; nothing, /metrics included, listens on a public interface."""
    ports = [str(p) for p in SERVICES["api"]["ports"]]
    assert ports and all(p.startswith("127.0.0.1:") for p in ports), ports
    for name, svc in SERVICES.items():
        if name != "api":
            assert not svc.get("ports"), f"{name} publishes ports"


def test_api_trusts_the_one_proxy_and_lets_the_monitoring_network_read_metrics(tmp_path):
    import ipaddress

    env = _environment(SERVICES["api"])
    mine = {k: env[k] for k in ("TRUSTED_PROXIES", "METRICS_ALLOW")}  # the rest is checked above
    settings = load_settings({"INSTANCE_DIR": str(tmp_path), **mine})
    assert settings.trusted_proxies == 1  # the host's reverse proxy
    monitoring = COMPOSE["networks"]["monitoring"]
    subnets = [ipaddress.ip_network(c["subnet"]) for c in monitoring["ipam"]["config"]]
    assert "monitoring" in SERVICES["api"]["networks"] and "default" in SERVICES["api"]["networks"]
    allowed = settings.metrics_networks
    assert all(any(subnet.subnet_of(net) for net in allowed if net.version == subnet.version) for subnet in subnets)
    assert not any(net.prefixlen == 0 for net in allowed), "METRICS_ALLOW must not open /metrics to everyone"
