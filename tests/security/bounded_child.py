"""Run one reader over one file in this process under a memory limit, and print what came
out as JSON: ``python -m tests.security.bounded_child READER PATH [FORMAT]``.

The limit (``RLIMIT_AS``) is set after the readers are imported, at the interpreter's
address space then plus ``BOUNDED_CHILD_HEADROOM`` bytes (default 1 GiB), so a reader that
held a bomb's 1 GiB dies with MemoryError instead of passing. Readers: ``curation`` (the
curation dispatcher, FORMAT as it takes), ``kernel`` (the one JSONL reader) and
``importer`` (the batch importer's prompt reader).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

from paddock.annotation.importers import ImportProblem, read_prompts
from paddock.curation.core.documents import ReadProblem
from paddock.curation.core.readers import read_documents
from paddock.kernel.jsonl import LineProblem, read_jsonl


def address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def summary(item: object) -> list:
    if isinstance(item, ReadProblem):
        return ["problem", item.kind, item.locator]
    if isinstance(item, LineProblem):
        return ["problem", item.code, f"line {item.line}"]
    if isinstance(item, ImportProblem):
        return ["problem", item.kind, f"line {item.line}"]
    locator = getattr(item, "locator", None) or f"line {item.line}"
    return ["record", locator]


def main() -> None:
    reader, path, *rest = sys.argv[1:]
    headroom = int(os.environ.get("BOUNDED_CHILD_HEADROOM", str(1 << 30)))
    resource.setrlimit(resource.RLIMIT_AS, (address_space() + headroom, resource.RLIM_INFINITY))
    started = time.perf_counter()
    if reader == "curation":
        items = read_documents(path, *rest)
    elif reader == "kernel":
        items = read_jsonl(path)
    else:
        items = read_prompts(path)
    out = [summary(item) for item in items]
    print(json.dumps({
        "items": out, "seconds": time.perf_counter() - started,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
