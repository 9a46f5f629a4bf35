"""All configuration in one place, read from ``CHAOYUN_*`` environment variables.

Every setting is listed with its default in the README; keep the two in step.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(f"CHAOYUN_{name}", default)


def _secret_key(var_dir: Path) -> str:
    """An explicit key wins; otherwise one is generated once and kept under var/."""
    explicit = os.environ.get("CHAOYUN_SECRET_KEY")
    if explicit:
        return explicit
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class Var:
    name: str  # without the CHAOYUN_ prefix
    default: str
    help: str


# Every variable of every context, with its default: the one place configuration is declared.
# Contexts read them with ``env(name)`` (typed parsing stays with the context that uses the value).
VARIABLES: tuple[Var, ...] = (
    # foundation
    Var("DATABASE_URL", "sqlite:///./var/chaoyun.db", "SQLAlchemy URL; PostgreSQL: postgresql+psycopg://user@host/db"),
    Var("VAR_DIR", "./var", "data folder: SQLite files, uploads, generated secret key"),
    Var("SECRET_KEY", "(generated into var/secret_key)", "secret for signing and demo device credentials"),
    Var("AUDIT_KEY", "(generated into var/audit_key)", "HMAC key of the audit chain; keep it outside the database"),
    Var("HOST", "127.0.0.1", "address chaoyun serve binds"),
    Var("PORT", "8000", "port chaoyun serve listens on"),
    Var("DEFAULT_LOCALE", "zh_CN", "page language before a user chooses (zh_CN or en)"),
    Var("TIMEZONE", "Asia/Shanghai", "zone every time is shown in (stored times are UTC)"),
    Var("DATETIME_FORMAT", "%Y-%m-%d %H:%M", "strftime format of a date and time in pages, PDFs, Excel, messages"),
    Var("DATE_FORMAT", "%Y-%m-%d", "strftime format of a date"),
    Var("SESSION_HOURS", "12", "lifetime of a login session"),
    Var("COOKIE_SECURE", "0", "1 behind HTTPS: cookies get the Secure flag"),
    Var("LOGIN_MAX_FAILURES", "5", "failed logins before the account is locked"),
    Var("LOGIN_LOCKOUT_MINUTES", "15", "how long a lock lasts"),
    Var("LOGIN_ADDRESS_MAX_FAILURES", "20", "failed sign-ins from one client address before it must wait (429)"),
    Var("LOGIN_ADDRESS_WINDOW_MINUTES", "15", "window those failures are counted in"),
    # platform hardening (docs/operations.md)
    Var("HSTS_SECONDS", "31536000", "HSTS max-age, sent over HTTPS or with COOKIE_SECURE=1 (0: off)"),
    Var("RATE_LIMITS", "1", "0 switches every request rate limit off"),
    Var("RATE_LIMIT_INGEST", "600/600", "HTTP telemetry per device token: requests per minute[/burst] (0: no limit)"),
    Var("RATE_LIMIT_INGEST_ADDRESS", "12000/2000", "HTTP telemetry per client address: per minute[/burst]"),
    Var("REDIS_URL", "", "Redis for rate-limit buckets shared by every worker (empty: each process counts alone)"),
    Var("NODE_MODULES", "./node_modules", "where npm installed Bootstrap, htmx and ECharts"),
    Var("SQL_ECHO", "0", "1 logs every SQL statement"),
    Var("GC_GEN0", "50000", "allocations between young garbage-collector passes in ingest and web workers; "
        "objects loaded at start are frozen out of the walks (0: Python's defaults, 700)"),
    Var("BACKGROUND", "1", "0 disables background jobs inside the web process"),
    Var("JOBS_URL", "", "job queue: empty = embedded (SQLite file in VAR_DIR, worker inside the web process); "
        "redis://host:6379/N = production (web processes only enqueue; run `chaoyun worker`)"),
    Var("JOBS_WORKERS", "4", "worker threads of `chaoyun worker` (and of the embedded worker); a schedule solve "
        "holds one for its time limit"),
    Var("JOBS_LEASE_S", "30", "seconds a running job's lease lasts; a dead worker's job is retried after it"),
    Var("JOBS_ONLY", "", "comma-separated periodic task names to run (empty: all; for tests and diagnosis)"),
    Var("JOBS_SELFTEST_S", "0", "period of a self-test periodic task that records each run (0: off)"),
    # devices and simulator
    Var("DEVICE_ONLINE_S", "120", "seconds without data before a device counts as offline"),
    Var("TELEMETRY_RETENTION_DAYS", "365", "default telemetry retention (enterprises may set their own)"),
    Var("TELEMETRY_1M_DAYS", "730", "days 1-minute rollups are kept (0 = forever; enterprises may set their own)"),
    Var("TELEMETRY_1H_DAYS", "0", "days 1-hour rollups are kept (0 = forever; enterprises may set their own)"),
    Var("INGEST_MAX_POINTS", "100000", "most points accepted in one message or request"),
    Var("INGEST_MAX_BODY_MB", "32", "largest HTTP telemetry body"),
    Var("INGEST_MAX_AGE_DAYS", "30", "oldest timestamp accepted"),
    Var("INGEST_MAX_FUTURE_S", "600", "how far in the future a timestamp may be"),
    Var("SIMULATE", "0", "1 runs the demo factories' simulator inside the server (make demo sets it)"),
    Var("SIMULATE_BACKFILL_HOURS", "2", "history the in-server simulator fills in at start"),
    Var("SIMULATE_INTERVAL_S", "5", "seconds between simulated messages"),
    # connectivity
    Var("MQTT_URL", "mqtt://127.0.0.1:1883", "MQTT broker the platform subscribes to"),
    Var("MQTT_INGEST", "1", "1 runs the MQTT ingest worker inside the server"),
    Var("MQTT_SHARE_GROUP", "", "shared-subscription group ($share/<group>/...) for several ingest workers"),
    Var("MQTT_CLIENT_ID", "chaoyun-ingest-<hostname>", "MQTT client id of the ingest worker"),
    Var("MQTT_SESSION_EXPIRY", "604800", "seconds the broker keeps the persistent session"),
    Var("MQTT_BATCH", "2000", "messages stored per database transaction"),
    Var("MQTT_BATCH_MS", "50", "longest wait to fill a batch"),
    Var("MQTT_RECEIVE_MAXIMUM", "10000", "unacknowledged messages the broker may send at once"),
    Var("MQTT_COMMANDS", "1", "1 sends write-back commands from the server"),
    Var("COMMAND_TIMEOUT_S", "300", "seconds before an unanswered write-back command fails"),
    Var("WEBHOOK_ALLOW_PRIVATE", "0", "1 lets alarm webhooks reach loopback/private/link-local addresses"),
    # programme
    Var("POLICY_PACK", "chaoyun/programme/packs/shantou-2018.yaml", "the city's plan as a policy pack"),
    Var("UPLOAD_MAX_BYTES", "10485760", "largest voucher/subsidy attachment"),
    # marketplace
    Var("MARKET_QUOTA_PLATFORM", "8000000", "starting voucher quota of a platform provider per year (yuan)"),
    Var("MARKET_QUOTA_SERVICE", "5000000", "starting voucher quota of other providers per year (yuan)"),
    Var("MARKET_PASS_THRESHOLD", "70", "security checklist points (of 100) needed for the whitelist"),
    Var("MARKET_WHITELIST_MONTHS", "12", "how long a passed assessment stays valid"),
    Var("MARKET_UPLOAD_MAX_BYTES", "5242880", "largest provider attachment"),
    Var("MARKET_SPOT_CHECK_PENALTY", "0.20", "share of the base quota removed by a failed spot check"),
    Var("MARKET_COMPLAINT_PENALTY", "0.02", "share removed by an upheld complaint"),
    Var("MARKET_RATING_BONUS", "0.10", "share added at re-evaluation for an average rating of 4.5 or more"),
    # traceability (标识解析)
    Var("TRACE_NATIONAL_PREFIX", "88.754", "the city's identifier prefix; enterprise prefixes are allocated under it"),
    Var("TRACE_PUBLIC_BASE_URL", "", "public address printed in QR labels (empty: the address the request came to)"),
    # production apps
    Var("TARIFFS_FILE", "chaoyun/apps/energy/tariffs.yaml", "time-of-use tariffs (periods and prices)"),
    Var("REPORTS_CHECK_S", "900", "how often scheduled PDF reports are checked"),
)
_BY_NAME = {v.name: v for v in VARIABLES}


def env(name: str, default: str | None = None) -> str:
    """``CHAOYUN_<name>``, or its declared default. Unknown names fail loudly: declare them above."""
    var = _BY_NAME[name]
    return os.environ.get(f"CHAOYUN_{name}", var.default if default is None else default)


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    database_url: str
    secret_key: str
    host: str
    port: int
    default_locale: str
    session_hours: int
    cookie_secure: bool
    login_max_failures: int
    login_lockout_minutes: int
    static_vendor_dir: Path
    sql_echo: bool
    background: bool
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    var_dir = Path(_env("VAR_DIR", str(ROOT / "var")))
    return Settings(
        var_dir=var_dir,
        database_url=_env("DATABASE_URL", f"sqlite:///{var_dir / 'chaoyun.db'}"),
        secret_key=_secret_key(var_dir),
        host=env("HOST"),
        port=int(env("PORT")),
        default_locale=env("DEFAULT_LOCALE"),
        session_hours=int(env("SESSION_HOURS")),
        cookie_secure=env("COOKIE_SECURE") == "1",
        login_max_failures=int(env("LOGIN_MAX_FAILURES")),
        login_lockout_minutes=int(env("LOGIN_LOCKOUT_MINUTES")),
        static_vendor_dir=project_path(env("NODE_MODULES")),
        sql_echo=env("SQL_ECHO") == "1",
        background=env("BACKGROUND") == "1",
    )


def project_path(value: str) -> Path:
    """A path setting: absolute as given, or relative to the project root (where the defaults point)."""
    p = Path(value)
    return p if p.is_absolute() else ROOT / p
