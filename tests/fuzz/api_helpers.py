"""Helpers for the API fuzz tests: checking an answer, undoing an example's writes."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.db import transaction


def storable(value) -> bool:
    """JSON without NUL or lone surrogates: those crash Batch.model_versions (see
    test_api_payloads.py::test_model_versions_with_a_nul_or_lone_surrogate_is_a_400)."""
    text = json.dumps(value, ensure_ascii=False)
    return not any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in text)


def messages(value) -> list[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [m for v in value.values() for m in messages(v)]
    if isinstance(value, list):
        return [m for v in value for m in messages(v)]
    return []


def check_answer(response) -> None:
    """Never a 500; a refusal is a JSON object with a message in it."""
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
        body = json.loads(response.content)
        assert isinstance(body, dict) and body, body
        assert any(m.strip() for m in messages(body)), body


class _Rollback(Exception):
    pass


def rolled_back(check: Callable[[], None]) -> None:
    """Run one example in a savepoint, then undo whatever it stored."""
    try:
        with transaction.atomic():
            check()
            raise _Rollback
    except _Rollback:
        pass
