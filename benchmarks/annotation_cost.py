"""Where a judgement's CPU goes: the annotation hot path, one request at a time.

Judgements are made through Django's WSGI handler in this process (no HTTP server, no
load client, one request at a time) over PostgreSQL, in two ways:

- two requests: ``next``, then ``submit`` (what scripts and the old workspace did);
- one round trip: ``submit`` with ``next=true``, which answers with the next comparison,
  while the client holds one comparison ahead (what the workspace does).

Each way runs with API tokens (scripts) and with a browser session and CSRF token (the
workspace). Per judgement it reports the web process's CPU time, the CPU time of the
PostgreSQL backend serving it (read from /proc, so it counts parsing, planning and
commits), and the SQL statements sent. A profile (CPU time, not wall time) then splits the
web process's time into parts: authentication, session, body parsing, rendering, SQL
client calls, and the services' own work.

This is the cost without concurrency; ``benchmarks/annotation_load.py`` measures the same
paths under 200 simulated annotators with gunicorn.

    python -m benchmarks.annotation_cost [--quick]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Functions whose cumulative CPU time is reported, by part. Each is looked up in the
# profile by (file suffix, function name); parts may nest (the services include their SQL).
PARTS = {
    "whole_request": ("django/core/handlers/wsgi.py", "__call__"),
    "middleware_before_view": ("django/utils/deprecation.py", "__call__"),
    "token_authentication": ("accounts/authentication.py", "authenticate_credentials"),
    "session_authentication": ("rest_framework/authentication.py", "enforce_csrf"),
    "session_load": ("SESSION_ENGINE", "load"),  # the configured engine's module
    "session_user": ("accounts/backends.py", "get_user"),
    "principal_cache": ("accounts/principal_cache.py", "lookup"),
    "auth_epoch_read": ("accounts/auth_epoch.py", "current"),
    "body_parsing": ("rest_framework/request.py", "_parse"),
    "serializer_validation": ("rest_framework/serializers.py", "is_valid"),
    "rendering": ("rest_framework/renderers.py", "render"),
    "sql_client": ("django/db/backends/utils.py", "_execute"),
    "connection_health_check": ("django/db/backends/base/base.py", "close_if_health_check_failed"),
    "service_next": ("services/assignment.py", "next_assignment"),
    "service_submit": ("services/assignment.py", "submit_judgement"),
    "lease_payload": ("annotation/selectors.py", "lease_payload"),
}


def environ(method: str, path: str, body: dict | None, headers: dict[str, str]) -> dict:
    data = json.dumps(body).encode() if body is not None else b""
    env = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(data), "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json",
        "HTTP_ACCEPT": "application/json",
    }
    env.update({"HTTP_" + name.upper().replace("-", "_"): value
                for name, value in headers.items()})
    return env


class Client:
    """One annotator's requests straight into the WSGI handler."""

    def __init__(self, handler, headers: dict[str, str]) -> None:
        self.handler, self.headers = handler, headers

    def post(self, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        status: list[str] = []
        chunks = self.handler(environ("POST", path, body, self.headers),
                              lambda s, h, exc=None: status.append(s))
        raw = b"".join(chunks)
        chunks.close()
        code = int(status[0].split()[0])
        return code, (json.loads(raw) if raw else None)


def credentials(user, token: str, *, session: bool) -> dict[str, str]:
    """Request headers for a token client, or for a logged-in browser (cookie + CSRF)."""
    if not session:
        return {"Authorization": f"Token {token}"}
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.middleware.csrf import _get_new_csrf_string
    from django.utils.module_loading import import_string

    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    csrf = _get_new_csrf_string()
    return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={store.session_key};"
                      f" {settings.CSRF_COOKIE_NAME}={csrf}",
            "X-CSRFToken": csrf}


def verdict(lease: dict) -> dict:
    body = {"chosen": "left", "strength": "better"}
    if lease["axis"] == "safety":
        body |= {"left_safe": True, "right_safe": False}
    return body


SUBMIT = "/api/v1/annotation/assignments/{}/submit"
NEXT = "/api/v1/annotation/next"


def two_requests(client: Client, state: dict) -> int:
    """One judgement the old way: next, then submit. Returns the requests made."""
    code, lease = client.post(NEXT)
    assert code == 200, (code, lease)
    code, body = client.post(SUBMIT.format(lease["assignment_id"]), verdict(lease))
    assert code == 201, (code, body)
    return 2


def one_round_trip(client: Client, state: dict) -> int:
    """One judgement the workspace's way: the comparison shown was held ahead; its submit
    brings the next one to hold. The first call of a client also fetches the first two."""
    requests = 0
    if "shown" not in state:
        code, state["shown"] = client.post(NEXT)
        code, state["held"] = client.post(NEXT, {"holding": [state["shown"]["assignment_id"]]})
        assert code == 200, code
        requests += 2
    shown = state["shown"]
    body = verdict(shown) | {"next": True, "holding": [state["held"]["assignment_id"]]}
    code, answer = client.post(SUBMIT.format(shown["assignment_id"]), body)
    assert code == 201 and answer["next"], (code, answer)
    state["shown"], state["held"] = state["held"], answer["next"]
    return requests + 1


def database_cpu_seconds() -> float:
    """CPU time of the PostgreSQL backend serving this process's connection (kept open for
    the whole run: CONN_MAX_AGE is lifted in ``main``), so other databases' work on the
    machine does not count."""
    from django.db import connection

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(way, clients: list[Client], judgements: int) -> dict:
    """Run ``judgements`` judgements round robin over the clients; CPU, statements."""
    from django.db import connection

    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    states = [{} for _ in clients]
    for i in range(len(clients)):  # warm: connection, caches, first leases
        way(clients[i], states[i])
    requests = 0
    database_before = database_cpu_seconds()
    backend = connection.connection.info.backend_pid
    web_before = time.thread_time()
    with connection.execute_wrapper(count):
        for i in range(judgements):
            requests += way(clients[i % len(clients)], states[i % len(clients)])
    web = time.thread_time() - web_before
    database = database_cpu_seconds() - database_before
    assert connection.connection.info.backend_pid == backend, "reconnected during the run"
    return {
        "web_cpu_ms_per_judgement": round(web * 1000 / judgements, 2),
        "database_cpu_ms_per_judgement": round(database * 1000 / judgements, 2),
        "cpu_ms_per_judgement": round((web + database) * 1000 / judgements, 2),
        "requests_per_judgement": round(requests / judgements, 3),
        "statements_per_judgement": round(statements / judgements, 2),
    }


def profile(way, clients: list[Client], judgements: int) -> dict[str, float]:
    """CPU ms per judgement spent in (under) each of PARTS."""
    states = [{} for _ in clients]
    for i in range(len(clients)):
        way(clients[i], states[i])
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    for i in range(judgements):
        way(clients[i % len(clients)], states[i % len(clients)])
    profiler.disable()
    if os.environ.get("PADDOCK_COST_PROFILE"):  # the top functions, for a person reading
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(45)
    from django.conf import settings

    stats = pstats.Stats(profiler).stats
    parts = {}
    for part, (suffix, function) in PARTS.items():
        if suffix == "SESSION_ENGINE":
            suffix = settings.SESSION_ENGINE.replace(".", "/") + ".py"
        total = sum(cumulative for (file, _, name), (_, _, _, cumulative, _) in stats.items()
                    if name == function and file.endswith(suffix))
        parts[part] = round(total * 1000 / judgements, 3)
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--judgements", type=int, help="judgements per way (default 2,000)")
    parser.add_argument("--ways", default="two_requests,one_round_trip",
                        help="which ways, comma-separated (default both)")
    args = parser.parse_args()
    judgements = args.judgements or (60 if args.quick else 2000)
    annotators = 20
    known = {"two_requests": two_requests, "one_round_trip": one_round_trip}
    ways = [known[name] for name in args.ways.split(",")]

    from benchmarks.common import (
        create_postgres_database,
        drop_postgres_database,
        isolate_environment,
        write_results,
    )

    isolate_environment()
    database_url, name = create_postgres_database("paddock_bench_cost")
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
    import django

    django.setup()
    from django.db import connections

    # One backend for the whole run (production reconnects every CONN_MAX_AGE seconds,
    # which costs nothing per request), so its CPU time can be read from /proc.
    connections["default"].settings_dict["CONN_MAX_AGE"] = None
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command

    from benchmarks.annotation_load import seed
    from paddock.platform.accounts.models import User

    figures: dict = {"annotators": annotators, "judgements_per_way": judgements,
                     "database": "postgresql", "server": "Django WSGI handler in-process"}
    try:
        call_command("migrate", verbosity=0)
        # Enough comparisons for every way: each takes (judgements + warm-up) of them.
        _, tokens = seed(6 * (judgements + 3 * annotators), annotators, overlap=1,
                         history=max(judgements * 4, 2000))
        handler = WSGIHandler()
        users = {u.pk: u for u in User.objects.filter(username__startswith="load-")}
        from rest_framework.authtoken.models import Token

        keyed = {t.key: users[t.user_id] for t in Token.objects.filter(key__in=tokens)}
        for door in ("token", "session"):
            clients = [Client(handler, credentials(keyed[token], token,
                                                   session=door == "session"))
                       for token in tokens]
            for way in ways:
                key = f"{door}_{way.__name__}"
                figures[key] = measure(way, clients, judgements)
                figures[key]["profile_ms_per_judgement"] = profile(
                    way, clients, max(judgements // 4, 20))
                print(key, json.dumps(figures[key], indent=1), flush=True)
        for door in ("token", "session") if len(ways) == 2 else ():
            two, one = figures[f"{door}_two_requests"], figures[f"{door}_one_round_trip"]
            figures[f"{door}_cpu_ratio_one_round_trip_vs_two_requests"] = round(
                one["cpu_ms_per_judgement"] / two["cpu_ms_per_judgement"], 3)
    finally:
        from django.db import connections

        connections.close_all()
        drop_postgres_database(name)
    write_results("annotation_cost", figures, quick=args.quick)


if __name__ == "__main__":
    main()
