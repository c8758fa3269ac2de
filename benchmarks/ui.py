"""The annotator screen in a real browser: page weight, and time from submit to the next
comparison shown.

The stack as deployed: gunicorn (gthread) with production settings (WhiteNoise serving the
collected, compressed static files; DEBUG off) over PostgreSQL, and Debian's headless
Chromium driven by Playwright, all on this machine. An annotator logs in through the login
page, then:

- page weight: every byte Chromium receives (headers and compressed bodies, as its
  network layer counts them) to open the workspace with an empty cache, until the first
  comparison is shown and the network is idle: HTML, CSS, JS and the first API calls.
  Also with a warm cache (static files are cached forever under hashed names).
- time to the first comparison: from navigation start to the first comparison painted.
- submit to next: judgements made with the keyboard (1/2, then a strength key, which
  submits). The page measures each one itself, from the submit to the next comparison
  painted (``performance.measure``, taken in the next animation frame); the driver's
  own wall time from the key press to seeing the new comparison is reported beside it.
  The page holds the next comparison leased ahead and paints it at the key press, before
  the submit is sent, so this is about one frame, whatever the server's time (the driver
  waits until the page holds the next one, as an annotator reading the comparison would).
- the same under load: 200 simulated annotators (``benchmarks.annotation_load``'s
  one-round-trip clients, think 2 s) judging a batch of the same texts on the same server
  and cores while the keyboard judgements are timed again.

    python -m benchmarks.ui [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = secrets.token_urlsafe(16)  # a throwaway user on a throwaway database
TARGET_KB = 150
TARGET_MS = 200
OPENS = 4  # the workspace is opened 3 times warm, then once with an empty cache

PROMPT = ("I have a 40 GB CSV of sensor readings. How can I get the mean of the "
          "`temperature` column in Python without loading it all into memory?")
ANSWERS = (
    """Read it in chunks, so only one chunk is in memory at a time:

```python
import pandas as pd

total = count = 0
for chunk in pd.read_csv("readings.csv", usecols=["temperature"],
                         chunksize=1_000_000):
    total += chunk["temperature"].sum()
    count += chunk["temperature"].count()
print(total / count)
```

- `usecols` reads only the column you need.
- `count()` skips missing values, as `mean()` would.

With one million rows per chunk this uses a few hundred megabytes at most, whatever the
size of the file. If the file is compressed, pass `compression="gzip"` as well.""",
    """The standard library streams it line by line:

```python
import csv

total = count = 0
with open("readings.csv", newline="") as f:
    for row in csv.DictReader(f):
        if row["temperature"]:
            total += float(row["temperature"])
            count += 1
print(total / count)
```

This is slower than pandas (pure Python per row) but needs **no** extra memory. For a
40 GB file expect several minutes; *polars* or *DuckDB* would be faster still.""",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_environment(scratch: Path) -> None:
    """Production settings served over plain HTTP on 127.0.0.1 (no TLS proxy here)."""
    os.environ.update({
        "PADDOCK_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1",
        "PADDOCK_SSL_REDIRECT": "false",
        "PADDOCK_HSTS_SECONDS": "0",
        "PADDOCK_VAR_DIR": str(scratch),
        "LOG_LEVEL": "WARNING",
    })
    os.environ.pop("DEBUG", None)


def seed(comparisons: int) -> None:
    from paddock.annotation.models import Axis, Batch, BatchStatus
    from paddock.annotation.services.comparisons import (
        ResponseSpec,
        TurnSpec,
        comparison_create,
        conversation_create,
    )
    from paddock.platform.accounts.models import Role, User

    batch = Batch.objects.create(name="ui benchmark", status=BatchStatus.OPEN, overlap=1)
    for i in range(comparisons):
        conversation = conversation_create(
            batch=batch, axis=Axis.HELPFULNESS,
            turns=[TurnSpec("user", f"{PROMPT} (file {i})"),
                   TurnSpec("assistant", "Do you have pandas, or only the standard library?"),
                   TurnSpec("user", "pandas is installed, but show both if they differ.")],
        )
        comparison_create(conversation=conversation,
                          response_a=ResponseSpec(ANSWERS[0], "policy-v2", temperature=0.7),
                          response_b=ResponseSpec(ANSWERS[1], "policy-v1", temperature=0.7))
    User.objects.create_user("bench-annotator", password=PASSWORD, role=Role.ANNOTATOR)


SHOWN = (
    "previous => { const c = document.getElementById('comparison');"
    " return !c.hidden && c.dataset.assignment && c.dataset.assignment !== previous &&"
    " !document.getElementById('workspace').classList.contains('busy'); }"
)

HELD = "() => Boolean(document.getElementById('workspace').dataset.held)"


class Traffic:
    """Bytes on the wire per request, from Chromium's network layer (DevTools protocol)."""

    def __init__(self, cdp) -> None:
        self.kinds: dict[str, str] = {}
        self.encoded: dict[str, int] = {}
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)

    def _response(self, event) -> None:
        self.kinds[event["requestId"]] = event.get("type", "Other")

    def _finished(self, event) -> None:
        self.encoded[event["requestId"]] = int(event["encodedDataLength"])

    def reset(self) -> None:
        self.kinds.clear()
        self.encoded.clear()

    def by_kind(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for request, size in self.encoded.items():
            kind = {"Document": "html", "Stylesheet": "css", "Script": "js", "Fetch": "api",
                    "XHR": "api"}.get(self.kinds.get(request, "Other"), "other")
            totals[kind] = totals.get(kind, 0) + size
        return totals


def open_workspace(page, traffic: Traffic) -> dict:
    traffic.reset()
    page.goto("/annotate/")
    page.wait_for_function(SHOWN, arg="")
    page.wait_for_load_state("networkidle")
    timing = page.evaluate(
        "() => { const nav = performance.getEntriesByType('navigation')[0];"
        " const shown = performance.getEntriesByName('paddock:comparison-shown')[0];"
        " const resources = performance.getEntriesByType('resource');"
        " const next = resources.find(r => r.name.endsWith('/annotation/next'));"
        " return { shown: shown ? shown.startTime : null,"
        " dom: nav.domContentLoadedEventEnd,"
        " next_start: next ? next.startTime : null,"
        " next_ms: next ? next.responseEnd - next.startTime : null,"
        " decoded: nav.decodedBodySize + resources.reduce((n, r) => n + r.decodedBodySize, 0)};"
        " }"
    )
    return {"bytes": sum(traffic.encoded.values()), "requests": len(traffic.encoded),
            "by_kind": traffic.by_kind(), **timing}


def judge(page, count: int, rng: random.Random) -> tuple[list[float], list[float], dict]:
    """``count`` judgements by keyboard: the page's submit-to-next times, the driver's
    key-to-next times (ms), and the request times of submit and next as the page saw them."""
    page.evaluate("() => { performance.clearMeasures('paddock:submit-to-next');"
                  " performance.clearResourceTimings();"
                  " performance.setResourceTimingBufferSize(10000); }")
    wall = []
    for _ in range(count):
        previous = page.get_attribute("#comparison", "data-assignment")
        # An annotator reads for seconds, longer than the round trip that leases the next
        # comparison ahead: the driver waits for it as a reader would.
        page.wait_for_function(HELD, polling="raf")
        page.keyboard.press(rng.choice("12"))
        start = time.perf_counter()
        page.keyboard.press(rng.choice("qwer"))
        page.wait_for_function(SHOWN, arg=previous, polling="raf")
        wall.append((time.perf_counter() - start) * 1000)
    page.wait_for_timeout(50)  # the last measure is taken in the next animation frame
    measured = page.evaluate(
        "() => performance.getEntriesByName('paddock:submit-to-next').map(e => e.duration)"
    )
    requests = page.evaluate(
        "() => { const out = {submit: [], next: []};"
        " for (const r of performance.getEntriesByType('resource')) {"
        " const kind = r.name.endsWith('/submit') ? 'submit' :"
        " r.name.endsWith('/annotation/next') ? 'next' : null;"
        " if (kind) out[kind].push(r.responseEnd - r.startTime); }"
        " return out; }"
    )
    return measured, wall, requests


def under_load(page, count: int, rng: random.Random, base: tuple[str, int],
               quick: bool) -> dict:
    """The keyboard judgements again while simulated annotators load the same server."""
    import asyncio
    import threading

    from benchmarks.annotation_load import load
    from benchmarks.annotation_load import seed as seed_load
    from benchmarks.common import percentile

    annotators, comparisons, think = (20, 500, 0.2) if quick else (200, 20_000, 2.0)
    seeded: dict = {}

    def seed_in_a_thread() -> None:  # Playwright's loop makes this thread async to Django
        from django.db import connection

        from paddock.annotation.models import Comparison, Conversation

        try:
            batch_id, seeded["tokens"] = seed_load(
                comparisons, annotators, overlap=3, tag="ui load",
                texts=(PROMPT + " (file {i})", ANSWERS[0], ANSWERS[1]))
            # Helpfulness only, as the keyboard driver judges (no safe/unsafe marks).
            Comparison.objects.filter(batch_id=batch_id).update(axis="helpfulness")
            Conversation.objects.filter(batch_id=batch_id).update(axis="helpfulness",
                                                                  risk_category="")
        finally:
            connection.close()

    seeding = threading.Thread(target=seed_in_a_thread)
    seeding.start()
    seeding.join()
    tokens = seeded["tokens"]
    seconds = 3 * think + (10 if quick else 60)
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(stats=asyncio.run(
        load(base, tokens, seconds, think, 11, "one_round_trip"))))
    started = time.monotonic()
    thread.start()
    time.sleep(2 * think)  # everyone has started (they start spread over one think time)
    measured, wall, requests = judge(page, count, rng)
    busy = time.monotonic() - started
    thread.join()
    stats = outcome["stats"]
    return {
        "under_load_annotators": annotators,
        "under_load_think_seconds": think,
        "under_load_judgements_per_second": round(len(stats.acknowledged) / seconds, 1),
        "under_load_errors": sum(stats.errors.values()),
        "under_load_judged_while_loaded": busy < seconds,
        "under_load_submit_to_next_p50_ms": round(percentile(measured, 0.5), 1),
        "under_load_submit_to_next_p95_ms": round(percentile(measured, 0.95), 1),
        "under_load_key_to_next_seen_by_driver_p95_ms": round(percentile(wall, 0.95), 1),
        "under_load_submit_request_p50_ms": round(percentile(requests["submit"], 0.5), 1),
        "under_load_submit_request_p95_ms": round(percentile(requests["submit"], 0.95), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--judgements", type=int, help="judgements timed (default 30; quick 5)")
    args = parser.parse_args()
    count = args.judgements or (5 if args.quick else 30)
    warmup = 2

    from benchmarks import _chromium

    reason = _chromium.missing()
    if reason:
        sys.exit(f"benchmarks.ui: {reason}")
    from benchmarks.common import (
        create_postgres_database,
        drop_postgres_database,
        isolate_environment,
        percentile,
        wait_for_server,
        write_results,
    )

    isolate_environment()
    scratch = Path(tempfile.mkdtemp(prefix="paddock-bench-ui-"))
    production_environment(scratch)
    database_url, name = create_postgres_database("paddock_bench_ui")
    os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.core.management import call_command
    from playwright.sync_api import sync_playwright

    server = None
    try:
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        # Each of the OPENS openings leases one comparison ahead and leaving the page
        # releases it; a released comparison is not offered to the same annotator again.
        seed(warmup + count + 3 + OPENS)
        port = free_port()
        logs = open(scratch / "gunicorn.log", "w")
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "paddock.platform.wsgi",
             "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
             "--worker-class", "gthread", "--keep-alive", "75", "--log-level", "warning"],
            cwd=ROOT, env=dict(os.environ), stdout=logs, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        wait_for_server(base, who="benchmarks.ui")
        with sync_playwright() as playwright:
            browser = _chromium.launch(playwright)
            context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base)
            page = context.new_page()
            page.goto("/accounts/login/")
            page.fill("#id_username", "bench-annotator")
            page.fill("#id_password", PASSWORD)
            page.press("#id_password", "Enter")
            page.wait_for_url("**/annotate/")
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            traffic = Traffic(cdp)
            # Warm first (which also warms the server's threads and database
            # connections), then the same with an empty, disabled browser cache.
            for _ in range(OPENS - 1):
                warm = open_workspace(page, traffic)
            cdp.send("Network.clearBrowserCache")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            cold = open_workspace(page, traffic)
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
            rng = random.Random(7)  # noqa: S311 (which keys, not security)
            judge(page, warmup, rng)
            measured, wall, requests = judge(page, count, rng)
            loaded = under_load(page, count, rng, ("127.0.0.1", port), args.quick)
            version = browser.version
            browser.close()
        figures = {
            "server": "gunicorn gthread 2 workers x 4 threads, production settings, WhiteNoise",
            "database": "postgresql",
            "browser": f"Debian chromium {version}, headless, 1280x800",
            "page_requests_cold": cold["requests"],
            "page_bytes_cold": cold["bytes"],
            "page_kb_cold": round(cold["bytes"] / 1024, 1),
            "page_bytes_cold_by_kind": cold["by_kind"],
            "page_kb_uncompressed": round(cold["decoded"] / 1024, 1),
            "page_kb_warm_cache": round(warm["bytes"] / 1024, 1),
            "page_weight_target_kb": TARGET_KB,
            "page_weight_target_met": cold["bytes"] < TARGET_KB * 1024,
            "dom_content_loaded_ms_cold": round(cold["dom"], 1),
            "first_comparison_shown_ms_cold": round(cold["shown"], 1),
            "first_next_request_started_ms_cold": round(cold["next_start"], 1),
            "first_next_request_ms_cold": round(cold["next_ms"], 1),
            "first_comparison_shown_ms_warm": round(warm["shown"], 1),
            "judgements_timed": len(measured),
            "submit_to_next_p50_ms": round(percentile(measured, 0.5), 1),
            "submit_to_next_p95_ms": round(percentile(measured, 0.95), 1),
            "submit_to_next_max_ms": round(max(measured), 1),
            "submit_request_p50_ms": round(percentile(requests["submit"], 0.5), 1),
            # The next comparison is held ahead and each submit's reply brings the one after,
            # so judging asks `next` only when nothing was held (none, normally).
            "next_requests_while_judging": len(requests["next"]),
            "next_request_p50_ms": (round(percentile(requests["next"], 0.5), 1)
                                    if requests["next"] else None),
            "key_to_next_seen_by_driver_p50_ms": round(percentile(wall, 0.5), 1),
            "key_to_next_seen_by_driver_p95_ms": round(percentile(wall, 0.95), 1),
            "submit_to_next_target_ms": TARGET_MS,
            "submit_to_next_target_met": percentile(measured, 0.95) < TARGET_MS,
            **loaded,
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        drop_postgres_database(name)
    write_results("ui", figures, quick=args.quick)


if __name__ == "__main__":
    main()
