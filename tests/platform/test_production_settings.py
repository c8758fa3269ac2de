"""Production settings pass Django's deployment checklist, with secure cookies and headers.

Each check runs in a fresh interpreter with PADDOCK_ENV=production, since the settings are
read from the environment once, at import. The environment is built from scratch (PATH and
HOME only), so a developer's own PADDOCK_* or DEBUG variables cannot change the outcome.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from paddock.annotation.services.assignment import next_assignment, submit_judgement
from paddock.annotation.services.export import export_batch, export_path, pseudonym
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/paddock_dev")


def production_env(tmp_path: Path, **changes: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DJANGO_SETTINGS_MODULE": "paddock.platform.settings",
        "PADDOCK_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),  # 86 characters
        "ALLOWED_HOSTS": "paddock.example.org",
        "DATABASE_URL": DATABASE_URL,
        "PADDOCK_VAR_DIR": str(tmp_path / "var"),
    }
    env.update(changes)
    return {key: value for key, value in env.items() if value is not None}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_check_deploy_passes_in_production(tmp_path):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                 production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"PADDOCK_HSTS_SECONDS": "0"}, "security.W004"),  # the check does catch weak settings
        ({"SECRET_KEY": "short-" * 5}, "SECRET_KEY is shorter than 50 characters"),
        ({"DEBUG": "true"}, "DEBUG=true with PADDOCK_ENV=production"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is not set"),
        # Placeholder text is never served to annotators in production.
        ({"PADDOCK_RESPONSE_GENERATOR": "paddock.annotation.generation.StandInGenerator"},
         "production refuses it"),
    ],
)
def test_check_deploy_fails_on_unsafe_production_settings(tmp_path, changes, complaint):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                 production_env(tmp_path, **changes))
    assert result.returncode != 0
    assert complaint in result.stdout + result.stderr


READ_SETTINGS = """
import json
from django.conf import settings
names = ["DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_SECURE",
         "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT",
         "SECURE_CONTENT_TYPE_NOSNIFF", "X_FRAME_OPTIONS", "SECURE_REFERRER_POLICY",
         "SECURE_PROXY_SSL_HEADER", "ALLOWED_HOSTS"]
print(json.dumps({name: getattr(settings, name) for name in names}))
"""


def test_production_cookies_and_headers(tmp_path):
    result = run(["-c", READ_SETTINGS], production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["DEBUG"] is False
    assert found["SESSION_COOKIE_SECURE"] is True and found["SESSION_COOKIE_HTTPONLY"] is True
    assert found["CSRF_COOKIE_SECURE"] is True
    assert found["SECURE_HSTS_SECONDS"] >= 60 * 60 * 24 * 365
    assert found["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert found["SECURE_SSL_REDIRECT"] is True
    assert found["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert found["X_FRAME_OPTIONS"] == "DENY"
    assert found["SECURE_REFERRER_POLICY"] == "same-origin"
    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert found["ALLOWED_HOSTS"] == ["paddock.example.org"]


# --- Exports name annotators by pseudonym ------------------------------------------------
# tests/annotation/test_export.py checks each record's pseudonym against pseudonym() and
# the user id; this adds the username, the whole file, and the key's role.


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["preferences", "raw"])
def test_exports_name_annotators_by_a_keyed_pseudonym(make_user, settings, tmp_path, kind):
    settings.ARTIFACTS_DIR = tmp_path
    settings.PADDOCK_PSEUDONYM_KEY = "pseudonym-key-for-this-test"
    pseudonym.cache_clear()
    batch = make_batch()
    make_comparisons(batch, 2)
    people = [make_user(Role.ANNOTATOR) for _ in range(2)]
    for person in people:
        lease = next_assignment(annotator=person, batch=batch)
        submit_judgement(annotator=person, assignment_id=lease.pk, chosen_side="left",
                         strength="better")
    export_batch(batch, kind)
    with gzip.open(export_path(batch, kind), "rt", encoding="utf-8") as handle:
        raw_text = handle.read()
    records = [json.loads(line) for line in raw_text.splitlines()]
    by_person = {person.pk: pseudonym(person.pk) for person in people}
    assert sorted(r["annotator"] for r in records) == sorted(by_person.values())
    for person in people:
        name = by_person[person.pk]
        assert name.startswith("a-") and len(name) == 18
        assert name not in (str(person.pk), person.username)
        assert person.username not in raw_text
        assert f'"annotator": {person.pk}' not in raw_text
    # The pseudonym is an HMAC under the key: another key, other names.
    settings.PADDOCK_PSEUDONYM_KEY = "another-key"
    pseudonym.cache_clear()
    try:
        assert all(pseudonym(pk) != name for pk, name in by_person.items())
    finally:
        pseudonym.cache_clear()
