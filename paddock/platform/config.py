"""Reading paddock's configuration from the environment (12-factor).

Every setting that differs between a laptop and a production cluster comes from an
environment variable; this module turns those strings into typed values and fails with
one sentence that names the variable and says what to put in it. It must stay free of
Django imports beyond exceptions, because settings import it before Django is set up.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import secrets
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
ENVIRONMENTS = ("development", "production")


class ConfigurationError(ImproperlyConfigured):
    """A setting is missing or malformed; the message says which and how to fix it."""


def env_str(name: str, default: str | None = None, *, env: Mapping[str, str] = os.environ) -> str:
    value = env.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise ConfigurationError(f"{name} is not set: set it in the environment.")
    return default


def env_bool(name: str, default: bool, *, env: Mapping[str, str] = os.environ) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a boolean: use true or false.")


def env_choice(name: str, default: str, choices: tuple[str, ...], *,
               env: Mapping[str, str] = os.environ) -> str:
    value = env.get(name, "").strip()
    if not value:
        return default
    if value not in choices:
        raise ConfigurationError(f"{name}={value!r} is not one of {', '.join(choices)}.")
    return value


def env_int(name: str, default: int, *, env: Mapping[str, str] = os.environ) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not an integer.") from None


def env_float(name: str, default: float, *, env: Mapping[str, str] = os.environ) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number.") from None


_RATE = re.compile(r"^([1-9][0-9]*)/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str, *, env: Mapping[str, str] = os.environ) -> str:
    """A request rate for a DRF throttle, such as 30/hour."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if not _RATE.match(raw):
        raise ConfigurationError(
            f"{name}={raw!r} is not a rate: use a count per period, such as 30/hour "
            "(periods: second, minute, hour, day).")
    return raw


def env_list(name: str, default: list[str], *, env: Mapping[str, str] = os.environ) -> list[str]:
    raw = env.get(name, "").strip()
    if not raw:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str, *, env: Mapping[str, str] = os.environ) -> list[str]:
    """Comma-separated IP addresses or networks (``10.0.0.5``, ``10.0.0.0/8``, ``::1``),
    checked here so a typo stops start-up rather than silently trusting nobody."""
    networks = []
    for item in env_list(name, [], env=env):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigurationError(
                f"{name}: {item!r} is not an IP address or network: use e.g. 10.0.0.5 or "
                "10.0.0.0/8, comma-separated.") from None
    return networks


def environment(env: Mapping[str, str] = os.environ) -> str:
    name = env.get("PADDOCK_ENV", "").strip().lower() or "development"
    if name not in ENVIRONMENTS:
        raise ConfigurationError(
            f"PADDOCK_ENV={name!r} is unknown: use one of {', '.join(ENVIRONMENTS)}."
        )
    return name


def mask_url(url: str) -> str:
    """The URL with its password replaced, so error messages and logs never leak it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def database_from_url(url: str, *, sqlite_test_name: Path | None = None) -> dict:
    """Django's DATABASES['default'] from a DATABASE_URL, with production-minded options.

    SQLite gets WAL and an immediate-mode transaction so the web process and a worker can
    write at the same time without "database is locked"; PostgreSQL gets persistent,
    health-checked connections.
    """
    try:
        config = dj_database_url.parse(url)
    except Exception as exc:
        reason = str(exc).split(". ")[0]
        raise ConfigurationError(
            f"DATABASE_URL={mask_url(url)!r} is malformed ({reason}): use "
            "postgres://USER:PASSWORD@HOST:5432/NAME or sqlite:////absolute/path.sqlite3."
        ) from None
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        if not config["NAME"]:
            raise ConfigurationError(
                f"DATABASE_URL={url!r} names no SQLite file: use sqlite:////absolute/path.sqlite3."
            )
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        if sqlite_test_name is not None:
            # A file, not Django's default in-memory test database, so that a real Celery
            # worker started by the tests sees the same rows as the test process.
            config["TEST"] = {"NAME": str(sqlite_test_name)}
    elif engine == "django.db.backends.postgresql":
        if not config["NAME"]:
            raise ConfigurationError(
                f"DATABASE_URL={mask_url(url)!r} names no database: add /NAME at the end."
            )
        config["CONN_MAX_AGE"] = 60
        config["CONN_HEALTH_CHECKS"] = True
    return config


def validate_redis_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ConfigurationError(
            f"REDIS_URL={mask_url(url)!r} is malformed: use redis://HOST:6379/0."
        )
    try:
        parts.port  # noqa: B018 - urlsplit validates the port lazily
    except ValueError:
        raise ConfigurationError(
            f"REDIS_URL={mask_url(url)!r} has an invalid port: use redis://HOST:6379/0."
        ) from None
    return url


def secret_key(*, production: bool, var_dir: Path, env: Mapping[str, str] = os.environ) -> str:
    """SECRET_KEY from the environment; for local runs, generated once into var/.

    Production refuses to start without one: a key generated on each machine would log
    users out whenever a request lands on another web server.
    """
    key = env.get("SECRET_KEY", "").strip()
    if key:
        if production and len(key) < 50:
            raise ConfigurationError(
                "SECRET_KEY is shorter than 50 characters: generate one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(64))'."
            )
        return key
    if production:
        raise ConfigurationError(
            "SECRET_KEY is not set and PADDOCK_ENV=production: generate one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(64))' and export it."
        )
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    # O_EXCL: two processes starting at once (web and worker) must agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


@contextlib.contextmanager
def exit_on_configuration_error(program: str = "paddock") -> Iterator[None]:
    """Turn a configuration or connection failure at start-up into one line and exit 2.

    Used by manage.py, WSGI/ASGI and the Celery app: an operator reading a supervisor log
    needs the sentence saying what to fix, not a forty-line traceback.
    """
    try:
        yield
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"{program}: configuration error: {exc}\n")
        sys.exit(2)
    except Exception as exc:
        line = describe_connection_error(exc)
        if line is None:
            raise
        sys.stderr.write(f"{program}: {line}\n")
        sys.exit(2)


def describe_connection_error(exc: BaseException) -> str | None:
    """One sentence for a database or Redis that cannot be reached, else None."""
    from django.db.utils import OperationalError

    if isinstance(exc, OperationalError):
        from django.conf import settings

        url = mask_url(os.environ.get("DATABASE_URL", "")) or settings.DATABASES["default"]["NAME"]
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"cannot use the database {url} ({first_line}): start the database server "
            "or fix DATABASE_URL."
        )
    return None
