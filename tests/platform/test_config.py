"""Parsing configuration from the environment."""

import stat

import pytest

from paddock.platform.config import (
    ConfigurationError,
    database_from_url,
    env_bool,
    env_list,
    environment,
    mask_url,
    secret_key,
    validate_redis_url,
)


def test_postgres_url_gets_health_checked_persistent_connections():
    config = database_from_url("postgres://paddock:s3cret@db.internal:5433/paddock")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "paddock")
    assert config["CONN_HEALTH_CHECKS"] is True and config["CONN_MAX_AGE"] > 0


def test_sqlite_url_gets_wal_and_a_file_test_database(tmp_path):
    config = database_from_url(f"sqlite:///{tmp_path}/p.sqlite3", sqlite_test_name=tmp_path / "t")
    assert config["NAME"] == f"{tmp_path}/p.sqlite3"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert config["TEST"]["NAME"] == str(tmp_path / "t")


@pytest.mark.parametrize(
    "url", ["postgres//db", "mongodb://x/y", "postgres://u:pw@h:notaport/db", "postgres://h:5432"]
)
def test_malformed_database_urls_name_the_variable_and_hide_the_password(url):
    with pytest.raises(ConfigurationError, match="DATABASE_URL") as error:
        database_from_url(url)
    assert "pw" not in str(error.value)


def test_mask_url_hides_only_the_password():
    assert mask_url("postgres://u:hunter2@h:5432/db") == "postgres://u:***@h:5432/db"
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "redis://127.0.0.1:port/0"])
def test_bad_redis_urls_are_refused(url):
    with pytest.raises(ConfigurationError, match="REDIS_URL"):
        validate_redis_url(url)


def test_booleans_lists_and_environment_names():
    assert env_bool("X", True, env={}) is True
    assert env_bool("X", True, env={"X": "off"}) is False
    with pytest.raises(ConfigurationError, match="X='maybe' is not a boolean"):
        env_bool("X", True, env={"X": "maybe"})
    assert env_list("H", ["a"], env={"H": " a.org, b.org ,"}) == ["a.org", "b.org"]
    assert environment({}) == "development"
    with pytest.raises(ConfigurationError, match="PADDOCK_ENV='staging'"):
        environment({"PADDOCK_ENV": "staging"})


def test_local_secret_key_is_generated_once_and_private(tmp_path):
    first = secret_key(production=False, var_dir=tmp_path, env={})
    assert len(first) >= 50
    assert secret_key(production=False, var_dir=tmp_path, env={}) == first
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_production_requires_a_long_secret_key(tmp_path):
    with pytest.raises(ConfigurationError, match="SECRET_KEY is not set"):
        secret_key(production=True, var_dir=tmp_path, env={})
    with pytest.raises(ConfigurationError, match="shorter than 50"):
        secret_key(production=True, var_dir=tmp_path, env={"SECRET_KEY": "short"})
    assert not (tmp_path / "secret_key").exists()
