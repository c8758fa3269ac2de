"""Named prepared statements for the serving path: prepared once per connection on
PostgreSQL, plain SQL on SQLite or when switched off, and never confused across texts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from paddock.platform.prepared import Statement, run

pytestmark = pytest.mark.django_db


def test_placeholders_become_numbered_parameters_and_names_carry_a_digest():
    one = Statement("pair", "SELECT %s + %s")
    assert one._prepare == f"PREPARE {one.name} AS SELECT $1 + $2"
    assert one._execute == f"EXECUTE {one.name}(%s, %s)"
    other = Statement("pair", "SELECT %s - %s")
    assert one.name != other.name  # a changed text never runs under the old name
    with pytest.raises(ValueError, match="no '%%'"):
        Statement("percent", "SELECT 'a%%' LIKE %s")
    with pytest.raises(ValueError, match="a name of a-z"):
        Statement("Bad-Name", "SELECT 1")


def test_statements_run_and_answer_the_same_prepared_or_not(settings):
    sql = "SELECT CAST(%s AS integer) + CAST(%s AS integer), CAST(%s AS text)"
    with connection.cursor() as cursor:
        prepared = run(cursor, "sum_text", sql, [2, 3, "x"]).fetchone()
    settings.PADDOCK_DB_PREPARED_STATEMENTS = False
    with connection.cursor() as cursor:
        plain = run(cursor, "sum_text", sql, [2, 3, "x"]).fetchone()
    assert prepared == plain == (5, "x")


@pytest.mark.django_db(transaction=True)  # it closes the connection
def test_postgresql_prepares_once_per_connection(settings):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's; SQLite runs the plain text")
    statement = Statement("once", "SELECT %s::int * 2")
    with CaptureQueriesContext(connection) as first, connection.cursor() as cursor:
        assert statement.execute(cursor, [21]).fetchone() == (42,)
        assert statement.execute(cursor, [4]).fetchone() == (8,)
    sent = [q["sql"] for q in first.captured_queries]
    assert sent[0].startswith(f"PREPARE {statement.name} AS")
    assert all(s.startswith(f"EXECUTE {statement.name}(") for s in sent[1:]) and len(sent) == 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s",
                       [statement.name])
        assert cursor.fetchone() == (1,)
    # A new connection (CONN_MAX_AGE, an error) has none: prepared again there.
    connection.close()
    with CaptureQueriesContext(connection) as second, connection.cursor() as cursor:
        assert statement.execute(cursor, [5]).fetchone() == (10,)
    assert second.captured_queries[0]["sql"].startswith("PREPARE")
    settings.PADDOCK_DB_PREPARED_STATEMENTS = False
    with CaptureQueriesContext(connection) as off, connection.cursor() as cursor:
        assert statement.execute(cursor, [6]).fetchone() == (12,)
    assert [q["sql"] for q in off.captured_queries] == ["SELECT 6::int * 2"]
