"""Emptying the test session's Celery queues in Redis, between worker tests.

A worker test that fails (or is killed by its time-out) can leave messages in a queue or in
the broker's unacknowledged set, which the next test's worker would then take or count
(issue 17: a queue holding 2 messages where the test sent 1). Only this session's keys are
touched: they all carry its unique prefix.
"""

from __future__ import annotations

import redis

# kombu's Redis transport keeps priority levels of a queue under "<queue>\x06\x16<n>", and
# delivered-but-unacknowledged messages under these keys.
PRIORITY_SEPARATOR = "\x06\x16"
UNACKED_KEYS = ("unacked", "unacked_index", "unacked_mutex")


def queue_keys(*, prefix: str, queues: list[str]) -> list[str]:
    """Every key of ``prefix`` holding a message for one of ``queues``, or an unacked one."""
    return [f"{prefix}{queue}" for queue in queues] + [f"{prefix}{key}" for key in UNACKED_KEYS]


def queues_clean(client: redis.Redis, *, prefix: str, queues: list[str]) -> dict[str, int]:
    """Delete the messages waiting in ``queues`` (all priorities) and the unacked set.

    Returns how many items each deleted key held, so a caller can say what was left over.
    """
    if not prefix.startswith("paddock-test-"):
        raise ValueError(f"refusing to clean queues outside a test session: prefix {prefix!r}")
    keys = queue_keys(prefix=prefix, queues=queues)
    for queue in queues:
        keys += [key.decode() for key in
                 client.scan_iter(match=f"{prefix}{queue}{PRIORITY_SEPARATOR}*", count=1000)]
    removed = {}
    for key in keys:
        kind = client.type(key).decode()
        if kind == "none":
            continue
        removed[key] = {"list": client.llen, "hash": client.hlen, "zset": client.zcard}.get(
            kind, lambda _key: 1)(key)
        client.delete(key)
    return removed
