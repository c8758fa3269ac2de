"""The sentence people see for an exception that stopped a job or an ingest.

A job's or a source's error is shown to data managers (the console, ``/api/v1/jobs/<id>``)
and, for a written prompt, to its annotator. A traceback or a database error there tells
them nothing they can act on and shows SQL and internals (issue 18, M3). So only errors
that carry a message meant for people (bad input: ValueError, LookupError, OSError and
their subclasses, which paddock's services raise with one clear line, and
:class:`WordedError`) are shown as they are; any other exception becomes one sentence,
and the traceback goes to the worker's log, found there by the id the sentence names.
"""

from __future__ import annotations

from typing import Final

from django.db import Error as DatabaseError


class WordedError(Exception):
    """Base of a service's refusals that are not ValueErrors but whose message is written
    for people (the annotation services' ``AnnotationError``: "Batch week 12 is not
    open."): shown as they are, like bad input."""


WORDED_ERRORS: Final = (ValueError, LookupError, OSError, WordedError)


def failure_sentence(error: BaseException, *, reference: str) -> str:
    """``Type: message`` for a worded error, else a sentence naming ``reference`` (the job
    or source id to search the worker's log for)."""
    if isinstance(error, WORDED_ERRORS) and not isinstance(error, DatabaseError):
        return f"{type(error).__name__}: {error}"
    return (
        f"{type(error).__name__}: an unexpected error stopped this on the worker; its log "
        f"has the details ({reference})"
    )
