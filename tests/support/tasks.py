"""Tasks that exist only for the tests, declared through the same decorator as real ones.

A worker started by the tests imports this module with ``--include``.
"""

from paddock.workers.declare import RetryPolicy, paddock_task
from paddock.workers.jobs import report_progress
from paddock.workers.queues import Queue

CALLS: list[str] = []
ATTEMPTS: dict[str, int] = {}


@paddock_task(name="tests.count_words", queue=Queue.DEFAULT, idempotent=True)
def count_words(text: str) -> dict:
    """Reports progress per word, like a curation step does per document."""
    CALLS.append(text)
    words = text.split()
    for index, _ in enumerate(words, start=1):
        report_progress(index / len(words), f"{index} of {len(words)} words")
    return {"words": len(words)}


@paddock_task(name="tests.explode", queue=Queue.DEFAULT)
def explode(message: str) -> None:
    raise ValueError(message)


@paddock_task(
    name="tests.flaky",
    queue=Queue.DEFAULT,
    idempotent=True,
    retry=RetryPolicy(on=(ConnectionError,), max_retries=2, first_delay_seconds=0),
)
def flaky(key: str, failures: int) -> str:
    """Fails with a transient error ``failures`` times, then succeeds."""
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] <= failures:
        raise ConnectionError(f"attempt {ATTEMPTS[key]} lost the connection")
    return f"done after {ATTEMPTS[key]} attempts"


@paddock_task(name="tests.kill_own_worker", queue=Queue.DEFAULT, idempotent=True)
def kill_own_worker(tally: str) -> None:
    """Dies as a worker out of memory does (SIGKILL of its pool process), each delivery
    adding a line to the file ``tally`` first, so a test can count the deliveries."""
    import os
    import signal

    with open(tally, "a") as out:
        out.write("delivered\n")
    os.kill(os.getpid(), signal.SIGKILL)
