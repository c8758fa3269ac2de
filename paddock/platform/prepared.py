"""Named prepared statements for the raw SQL that runs on every annotator click.

PostgreSQL plans a statement each time it receives its text. On the annotation serving
path, planning cost more than running: the lease read (a seven-table join) took 2.5 ms to
plan and 0.15 ms to run, and planning was about 40% of the database's CPU per judgement
(benchmarks/annotation_cost.py). A statement prepared once per connection is planned a
few times (PostgreSQL then keeps a generic plan when it is no worse) and run by name.

Django turns psycopg's automatic preparation off (it breaks connection poolers), and its
cursors bind parameters on the client; so this module prepares with SQL's own
``PREPARE name AS ...`` once per database connection and runs ``EXECUTE name(...)``
through Django's cursor (statement counters and query logs see it as usual). Prepared
statements live as long as the connection (``CONN_MAX_AGE``) and survive rollbacks.

``PADDOCK_DB_PREPARED_STATEMENTS=false`` sends the plain statements instead: needed behind
a pooler that hands one client's session to another (PgBouncer in transaction mode).
SQLite always gets the plain statement.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence

from django.conf import settings

_PLACEHOLDER = re.compile(r"%s")


class Statement:
    """One SQL statement with ``%s`` placeholders, run prepared where that is possible.

    Define statements once, at import time: the name includes a digest of the text, so a
    changed statement never runs under an older statement's name.
    """

    def __init__(self, name: str, sql: str) -> None:
        if "%%" in sql or not re.fullmatch(r"[a-z_]+", name):
            raise ValueError(f"statement {name!r}: a name of a-z and _, and no '%%' in the SQL")
        self.sql = sql
        self.name = f"paddock_{name}_{hashlib.sha256(sql.encode()).hexdigest()[:10]}"
        numbers = iter(range(1, sql.count("%s") + 1))
        self._prepare = f"PREPARE {self.name} AS " + _PLACEHOLDER.sub(
            lambda _: f"${next(numbers)}", sql)
        arguments = ", ".join(["%s"] * sql.count("%s"))
        self._execute = f"EXECUTE {self.name}({arguments})" if arguments else f"EXECUTE {self.name}"

    def execute(self, cursor, params: Sequence = ()):
        """Run on a Django cursor; returns the cursor to fetch from."""
        db = cursor.db
        if db.vendor != "postgresql" or not getattr(settings, "PADDOCK_DB_PREPARED_STATEMENTS",
                                                    True):
            cursor.execute(self.sql, params)
            return cursor
        prepared = _prepared_on(db)
        if self.name not in prepared:
            cursor.execute(self._prepare)
            prepared.add(self.name)
        cursor.execute(self._execute, params)
        return cursor


def _prepared_on(db) -> set[str]:
    """The statements prepared on the database wrapper's current connection (a new
    connection, after CONN_MAX_AGE or an error, starts with none)."""
    raw = db.connection
    known = getattr(db, "_paddock_prepared", None)
    if known is None or known[0] is not raw:
        known = (raw, set())
        db._paddock_prepared = known
    return known[1]


@functools.lru_cache(maxsize=512)
def statement(name: str, sql: str) -> Statement:
    """The Statement for this text (built once; call sites may assemble their SQL at run
    time, e.g. with a row-lock clause that depends on the database)."""
    return Statement(name, sql)


def run(cursor, name: str, sql: str, params: Sequence = ()):
    """Run ``sql`` as the prepared statement ``name``; returns the cursor to fetch from."""
    return statement(name, sql).execute(cursor, params)
