"""Settings: the embedded default needs nothing; production names every missing variable; keys are checked."""

from __future__ import annotations

import base64
import multiprocessing
import os
import stat
from concurrent.futures import ProcessPoolExecutor

import pytest
from cryptography.fernet import Fernet

from backend.config import PRODUCTION_REQUIRED, S3_REQUIRED, VARIABLES, ConfigError, Settings, load_settings


def _prod_env(**extra) -> dict[str, str]:
    env = {
        "ZHIJIAO_ENV": "production",
        "DATABASE_URL": "postgresql://zj:pw@db:5432/zhijiao",
        "REDIS_URL": "redis://redis:6379/0",
        "SECRET_KEY": "s" * 40,
        "DATA_KEY": Fernet.generate_key().decode(),
        "AUDIT_KEY": "a" * 40,
        "EXPORT_RECIPIENT_KEY": base64.b64encode(bytes(range(32))).decode(),
        "S3_ENDPOINT": "http://s3:8333",
        "S3_BUCKET": "photos",
        "S3_ACCESS_KEY": "ak",
        "S3_SECRET_KEY": "sk",
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def test_embedded_default_needs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings({})
    instance = (tmp_path / "instance").resolve()
    assert s.env == "embedded" and s.instance_dir == instance
    assert s.database_url == f"sqlite:///{instance / 'zhijiao.sqlite3'}" and s.is_sqlite
    assert s.redis_embedded and s.redis_url == ""
    assert s.storage_backend == "local" and s.storage_dir == instance / "photos"
    for name in ("secret_key", "data_key", "audit_key"):
        path = instance / "secrets" / name
        assert path.read_text().strip() == getattr(s, name)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert len(getattr(s, name)) >= 32
    Fernet(s.data_key.encode())  # a usable key
    assert len({s.secret_key, s.data_key, s.audit_key}) == 3
    again = load_settings({})
    assert (again.secret_key, again.data_key, again.audit_key) == (s.secret_key, s.data_key, s.audit_key)
    assert s.access_token_minutes == 15 and s.refresh_token_days == 30 and s.idempotency_days == 30


def _load_secret_key(instance: str) -> str:
    return load_settings({"INSTANCE_DIR": instance}).secret_key


def test_processes_starting_together_agree_on_generated_secrets(tmp_path):
    with ProcessPoolExecutor(max_workers=4, mp_context=multiprocessing.get_context("spawn")) as pool:
        keys = list(pool.map(_load_secret_key, [str(tmp_path / "inst")] * 8))
    assert len(set(keys)) == 1
    assert not [p for p in (tmp_path / "inst" / "secrets").iterdir() if p.name.startswith(".")]


def test_production_names_every_missing_variable():
    with pytest.raises(ConfigError) as caught:
        load_settings({"ZHIJIAO_ENV": "production"})
    listed = str(caught.value).split("needs these settings: ")[1].split(" (")[0].split(", ")
    assert listed == list(PRODUCTION_REQUIRED + S3_REQUIRED)
    assert "DATABASE_URL" in PRODUCTION_REQUIRED and "S3_BUCKET" in S3_REQUIRED


@pytest.mark.parametrize("missing", PRODUCTION_REQUIRED + S3_REQUIRED)
def test_production_names_the_one_missing_variable(missing):
    with pytest.raises(ConfigError) as caught:
        load_settings(_prod_env(**{missing: None}))
    listed = str(caught.value).split("needs these settings: ")[1].split(" (")[0]
    assert listed == missing


def test_production_complete_environment_loads(tmp_path):
    s = load_settings(_prod_env(INSTANCE_DIR=str(tmp_path)))
    assert s.env == "production" and s.storage_backend == "s3"
    assert s.database_url == "postgresql+psycopg://zj:pw@db:5432/zhijiao"
    assert not (tmp_path / "secrets").exists()  # production never invents keys


def test_production_refuses_sqlite_and_short_keys(tmp_path):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings(_prod_env(DATABASE_URL=f"sqlite:///{tmp_path}/x.db"))
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(_prod_env(SECRET_KEY="short"))


def test_production_with_local_storage_needs_no_s3(tmp_path):
    env = _prod_env(STORAGE_BACKEND="local", INSTANCE_DIR=str(tmp_path))
    for var in S3_REQUIRED:
        env.pop(var)
    assert load_settings(env).storage_backend == "local"


@pytest.mark.parametrize("bad", ["not-a-key", base64.urlsafe_b64encode(b"short").decode(), "x" * 44])
def test_bad_data_key_is_a_clear_error(tmp_path, bad):
    with pytest.raises(ConfigError, match="DATA_KEY must be a Fernet key"):
        load_settings({"INSTANCE_DIR": str(tmp_path), "DATA_KEY": bad})
    with pytest.raises(ConfigError, match="DATA_KEY"):
        load_settings(_prod_env(DATA_KEY=bad))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_urls_use_psycopg3(tmp_path, given, expected):
    assert load_settings({"INSTANCE_DIR": str(tmp_path), "DATABASE_URL": given}).database_url == expected


def test_numbers_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="LOGIN_MAX_FAILURES must be a whole number"):
        load_settings({"INSTANCE_DIR": str(tmp_path), "LOGIN_MAX_FAILURES": "five"})
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_MINUTES must be at least 1"):
        load_settings({"INSTANCE_DIR": str(tmp_path), "ACCESS_TOKEN_MINUTES": "0"})
    s = load_settings({"INSTANCE_DIR": str(tmp_path), "LOGIN_MAX_FAILURES": " 3 ", "IDEMPOTENCY_DAYS": "45"})
    assert (s.login_max_failures, s.idempotency_days) == (3, 45)


def test_unknown_mode_and_storage_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="ZHIJIAO_ENV"):
        load_settings({"ZHIJIAO_ENV": "prod"})
    with pytest.raises(ConfigError, match="STORAGE_BACKEND"):
        load_settings({"INSTANCE_DIR": str(tmp_path), "STORAGE_BACKEND": "ftp"})


def test_every_variable_maps_to_a_setting():
    names = {f for f in Settings.__dataclass_fields__}
    for var, (field_name, _default, meaning) in VARIABLES.items():
        assert field_name in names and meaning, var


def test_os_environ_is_the_default_source(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "environ", {"INSTANCE_DIR": str(tmp_path), "REFRESH_TOKEN_DAYS": "9"})
    assert load_settings().refresh_token_days == 9
