"""The installation's document store: the one at ``PADDOCK_CURATION_STORE``.

Apart from :mod:`paddock.curation.core.store` so the core stays free of Django settings.
"""

from __future__ import annotations

from django.conf import settings

from paddock.curation.core.store import DocumentStore


def default_store() -> DocumentStore:
    return DocumentStore(settings.CURATION_STORE)
