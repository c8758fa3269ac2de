"""The progress callback every long step accepts (curation, exports, training jobs).

Steps report ``progress(fraction, message)``; a Celery task passes one that writes the
job's row, the CLI one that draws a bar, tests nothing. Steps never know which.
"""

from collections.abc import Callable

Progress = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    return None
