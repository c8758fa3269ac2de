"""What every training command does around its trainer: lock its output folder, turn
SIGTERM into a clean stop, checkpoint on a schedule. Used by the reward and policy CLIs.

- **Lock:** ``{output}/.paddock-run.lock``, held with ``fcntl.flock`` for the whole run
  and holding the owner's pid. A second run on the same folder is refused at once (the
  two would write the same checkpoints); the kernel drops the lock when its holder dies,
  so a killed run never leaves the folder locked. The file is removed on a clean exit.
- **Stop:** the first SIGTERM (or SIGINT) only sets a flag. The trainer finishes the step
  it is in, writes a checkpoint and returns; the CLI prints
  ``{"event": "stopped", "reason": "SIGTERM", "checkpoint": ...}`` and exits with
  ``128 + signal`` (143 for SIGTERM), so a caller knows the run did not finish, and the
  same command run again resumes from that checkpoint. A second signal kills at once
  (the checkpoint being written, if any, is discarded and the previous one stays).
- **Schedule:** CLI runs checkpoint every :data:`DEFAULT_SAVE_EVERY_STEPS` optimizer
  steps (:data:`DEFAULT_SAVE_EVERY_ITERATIONS` PPO iterations) unless told otherwise, and
  whenever :data:`DEFAULT_CHECKPOINT_MINUTES` minutes have passed since the last
  checkpoint, whichever comes first: a run killed without warning loses at most that.

Under ``torchrun`` only rank 0 locks the folder and reports; every rank stops at the
same step because the trainer combines the ranks' stop flags (see the reward trainer).
Nothing here imports torch.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import time
from pathlib import Path
from types import FrameType

LOCK_FILE = ".paddock-run.lock"
DEFAULT_SAVE_EVERY_STEPS = 50
DEFAULT_SAVE_EVERY_ITERATIONS = 5
DEFAULT_CHECKPOINT_MINUTES = 10.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class FolderLocked(Exception):
    """Another live process holds the output folder's lock; the message says which."""


def is_main_rank() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


class FolderLock:
    """An exclusive, non-blocking ``flock`` on ``folder/.paddock-run.lock``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(fd)
                if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                raise FolderLocked(
                    f"output folder {self.folder} is in use by another run "
                    f"(pid {self.holder() or 'unknown'}, lock file {self.path})") from None
            # The holder before us may have removed the file between our open and our
            # lock: then we hold a lock on a file nobody else will ever see. Try again.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def holder(self) -> int | None:
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def release(self) -> None:
        if self._fd is None:
            return
        try:  # removed while still held: a waiting opener notices (see acquire)
            self.path.unlink()
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class RunGuard:
    """Lock ``output`` and catch SIGTERM/SIGINT for the length of a ``with`` block.

    ``should_stop`` is what a trainer polls between steps; ``stop_reason`` names the
    signal; ``exit_status`` is what the CLI returns after a stop (128 + signal number).
    """

    def __init__(self, output: str | Path, *, lock: bool | None = None) -> None:
        self.output = Path(output)
        self.lock = FolderLock(output) if (is_main_rank() if lock is None else lock) else None
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> RunGuard:
        if self.lock is not None:
            self.lock.acquire()
        else:
            self.output.mkdir(parents=True, exist_ok=True)
        for number in STOP_SIGNALS:
            self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()
        if self.lock is not None:
            self.lock.release()

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = number
        # a second signal acts at once: the default action (or KeyboardInterrupt)
        signal.signal(number, self._previous.get(number, signal.SIG_DFL))

    def should_stop(self) -> bool:
        return self.signal is not None

    @property
    def stop_reason(self) -> str | None:
        return None if self.signal is None else signal.Signals(self.signal).name

    @property
    def exit_status(self) -> int:
        return 128 + (self.signal or 0)

    def stopped_event(self, checkpoint: str | Path | None, **fields) -> dict:
        return {"event": "stopped", "reason": self.stop_reason,
                "checkpoint": None if checkpoint is None else str(checkpoint), **fields}

    def emit_stopped(self, checkpoint: str | Path | None, **fields) -> int:
        """Print the stopped line (rank 0) and return the exit status."""
        if is_main_rank():
            print(json.dumps(self.stopped_event(checkpoint, **fields)), flush=True)
        return self.exit_status


class CheckpointClock:
    """True once ``seconds`` have passed since the last checkpoint (or the start)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds if seconds and seconds > 0 else None
        self.last = time.monotonic()

    def due(self) -> bool:
        return self.seconds is not None and time.monotonic() - self.last >= self.seconds

    def reset(self) -> None:
        self.last = time.monotonic()


def default_save_every(settings: dict, key: str, default: int) -> dict:
    """``settings`` with ``key`` set to ``default`` unless the caller chose a value."""
    return settings if key in settings else settings | {key: default}
