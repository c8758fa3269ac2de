"""The Celery queues paddock's work is split over, declared once.

Queues follow the hardware a task needs, not the part of the code it comes from:
``default`` and ``curation`` run on CPU workers; ``generation`` and ``training`` need a GPU.
A GPU worker runs with concurrency 1 and prefetch 1 (see the README's deployment section):
a training step holds the whole GPU's memory for hours, so a second task started beside it
would run out of memory, and a prefetched message would sit reserved behind a multi-hour
job while another GPU machine idles.
"""

from __future__ import annotations

from enum import StrEnum

from kombu import Exchange
from kombu import Queue as KombuQueue


class Queue(StrEnum):
    """Every queue paddock uses. A task naming a queue not listed here fails at import."""

    DEFAULT = "default"
    CURATION = "curation"
    GENERATION = "generation"
    TRAINING = "training"
    TRAINING_GROUP = "training_group"  # machines 1..N-1 of a training step spanning machines

    @property
    def needs_gpu(self) -> bool:
        return self in GPU_QUEUES


CPU_QUEUES: tuple[Queue, ...] = (Queue.DEFAULT, Queue.CURATION)
GPU_QUEUES: tuple[Queue, ...] = (Queue.GENERATION, Queue.TRAINING, Queue.TRAINING_GROUP)


def kombu_queues() -> tuple[KombuQueue, ...]:
    """The queue declarations Celery's ``task_queues`` setting expects."""
    return tuple(
        KombuQueue(queue.value, Exchange(queue.value, type="direct"), routing_key=queue.value)
        for queue in Queue
    )
