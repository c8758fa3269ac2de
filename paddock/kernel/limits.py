"""How much one input file may make a reader hold or read: the bounds behind every reader.

Input files come from outside (crawls chosen by websites, uploads by data managers, public
datasets), so a reader's memory and time must be bounded by these numbers, not by what a
file claims or decompresses to (issue 18, H1 and M4: a 1 MB WARC whose gzip-encoded body
held 1 GiB took a worker to 9 GB). Every reader in paddock reads them here:

- ``record_bytes`` (``PADDOCK_MAX_RECORD_BYTES``, 16 MiB): one record, decompressed: a
  JSONL or text line, a WARC record's block, an HTTP body after its Content-Encoding is
  undone, one file of a ``text`` folder. It holds the largest valid conversation of the
  exchange formats (100 turns of 100,000 characters); parsing a line this long as JSON
  holds well under 1 GB whatever the line contains.
- ``http_body_bytes`` (``PADDOCK_MAX_HTTP_BODY_BYTES``, 4 MiB): the HTML of one WARC
  response after its Content-Encoding (gzip, deflate, br) is undone; read in pieces and
  cut there, so a 1 MB body with 1 GiB inside costs 4 MiB. Extracting the main text of
  HTML holds about 75 times its size at worst (4 MiB: about 300 MB); Common Crawl itself
  cuts bodies at 1 MiB.
- ``file_bytes`` (``PADDOCK_MAX_FILE_DECOMPRESSED_BYTES``, 16 GiB): the decompressed bytes of
  one gzip or zstd file; past it the file ends with a ``too_large`` problem. A Common Crawl
  WARC (about 5 GB decompressed) fits.
- ``compression_ratio`` (``PADDOCK_MAX_COMPRESSION_RATIO``, 100): past its first 4 MiB, a
  gzip or zstd file may decompress to at most this many times the compressed bytes read
  so far, then it ends with ``too_large``. Honest text compresses 3 to 20 times, a bomb
  about 1,000 times (1 MB of gzip holds 1 GiB). Time, not memory, is what this bounds:
  reading is linear in what a file decompresses to, so without it a 1 MB gzip of
  newlines holds a worker for minutes.
- ``problems_in_a_row`` (``PADDOCK_MAX_PROBLEMS_IN_A_ROW``, 10,000): that many problems with
  no good record between them end the file with a ``too_many_problems`` problem; such a
  file is the wrong file or a hostile one, and reading on only holds a worker.

They are read from the environment here rather than from Django settings because the
curation core and the trainers run without Django; ``paddock.platform.settings`` reads
them at start-up too, so a wrong value stops the web and worker processes with one line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final, TypeVar

__all__ = [
    "LIMIT_VARIABLES", "LimitSettingError", "ReadLimits", "read_limits", "stop_after_problems",
    "too_many_problems_message",
]

DEFAULT_RECORD_BYTES: Final = 16 << 20
DEFAULT_HTTP_BODY_BYTES: Final = 4 << 20
DEFAULT_FILE_BYTES: Final = 16 << 30
DEFAULT_COMPRESSION_RATIO: Final = 100
DEFAULT_PROBLEMS_IN_A_ROW: Final = 10_000

LIMIT_VARIABLES: Final = {
    "record_bytes": ("PADDOCK_MAX_RECORD_BYTES", DEFAULT_RECORD_BYTES),
    "http_body_bytes": ("PADDOCK_MAX_HTTP_BODY_BYTES", DEFAULT_HTTP_BODY_BYTES),
    "file_bytes": ("PADDOCK_MAX_FILE_DECOMPRESSED_BYTES", DEFAULT_FILE_BYTES),
    "compression_ratio": ("PADDOCK_MAX_COMPRESSION_RATIO", DEFAULT_COMPRESSION_RATIO),
    "problems_in_a_row": ("PADDOCK_MAX_PROBLEMS_IN_A_ROW", DEFAULT_PROBLEMS_IN_A_ROW),
}


class LimitSettingError(ValueError):
    """A ``PADDOCK_MAX_*`` variable that is not a positive whole number."""


@dataclass(frozen=True, slots=True)
class ReadLimits:
    record_bytes: int = DEFAULT_RECORD_BYTES
    http_body_bytes: int = DEFAULT_HTTP_BODY_BYTES
    file_bytes: int = DEFAULT_FILE_BYTES
    compression_ratio: int = DEFAULT_COMPRESSION_RATIO
    problems_in_a_row: int = DEFAULT_PROBLEMS_IN_A_ROW


def read_limits(env: Mapping[str, str] = os.environ) -> ReadLimits:
    """The limits the environment sets (each variable unset or empty: its default).

    Read at each call (cheap), so a test or a worker started with other values gets them.

    Raises:
        LimitSettingError: a variable is not a positive whole number.
    """
    values = {}
    for field, (name, default) in LIMIT_VARIABLES.items():
        raw = env.get(name, "").strip().replace("_", "")
        if not raw:
            values[field] = default
            continue
        if not raw.isdigit() or int(raw) < 1:
            raise LimitSettingError(f"{name}={raw!r} is not a positive whole number.")
        values[field] = int(raw)
    return ReadLimits(**values)


_Item = TypeVar("_Item")


def stop_after_problems(
    items: Iterable[_Item],
    is_problem: Callable[[_Item], bool],
    stop: Callable[[_Item, int], _Item],
    limit: int | None = None,
) -> Iterator[_Item]:
    """``items`` until ``limit`` problems come in a row (None: the configured
    ``problems_in_a_row``); then ``stop(last_problem, limit)``, the file-level problem that
    says why the rest of the file is not read, and nothing more.

    A run, not a total: a large honest file with bad lines spread through it is read to
    the end, while 2,000,000 bad lines in a 4 kB gzip end after the first ``limit``.
    """
    if limit is None:
        limit = read_limits().problems_in_a_row
    in_a_row = 0
    for item in items:
        yield item
        if not is_problem(item):
            in_a_row = 0
            continue
        in_a_row += 1
        if in_a_row >= limit:
            yield stop(item, limit)
            return


def too_many_problems_message(limit: int) -> str:
    """What a file stopped by :func:`stop_after_problems` says, the same in every reader."""
    return (
        f"{limit:,} problems in a row with no good record: the rest of the file is not read "
        "(is it the right file? PADDOCK_MAX_PROBLEMS_IN_A_ROW)"
    )
