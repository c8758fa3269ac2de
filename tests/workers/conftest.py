from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def base_models(django_db_setup):
    """Tiny Llama bases at the configured paths, built once per test session."""
    from django.core.management import call_command

    call_command("paddock_bootstrap_models", tiny=True, verbosity=0)
