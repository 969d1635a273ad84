"""The worker's background writer: previews, checkpoints, progress and finals are written on
one thread while the engine steps on, so PNG encoding, hashing and the store's write lock
never hold up a step.

One thread and one FIFO queue, so a job's writes land in the order they were made (its
final after its last preview and checkpoint). The queue is bounded: a step that outruns the
disk waits for room rather than piling images up in memory. Every file is still staged and
moved into place by the store, so stopping between two writes leaves nothing half-written.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger("doorways.worker")

QUEUE_SIZE = 16  # writes waiting; each holds at most one preview image or one latent

_STOP = object()


class Writer:
    """Runs submitted writes in order on one daemon thread. A write that raises something
    its own code did not handle is kept and raised again on the submitting thread (at the
    next ``submit`` or ``drain``): a broken database must still end the worker loudly."""

    def __init__(self, *, maxsize: int = QUEUE_SIZE) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, write: Callable[[], None]) -> None:
        """Queue ``write`` after every write submitted before it (waits while full)."""
        self._raise_error()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
            self._thread.start()
        self._queue.put(write)

    def drain(self) -> None:
        """Wait until every submitted write has run."""
        self._queue.join()
        self._raise_error()

    def discard(self) -> int:
        """Forget the writes not yet begun (leaving mid-job: a crash, a second signal); the
        one running, if any, ends on its own. Returns how many were dropped."""
        dropped = 0
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return dropped
            self._queue.task_done()
            dropped += 1

    def close(self, timeout: float = 10.0) -> None:
        """Finish the queued writes and end the thread (a write stuck longer than
        ``timeout`` is left to the daemon thread: the process may exit)."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
        self._thread = None
        self._raise_error()

    def _run(self) -> None:
        while True:
            write = self._queue.get()
            try:
                if write is _STOP:
                    return
                if self._error is None:  # after a crash, nothing more is written
                    write()
            except BaseException as exc:  # handed to the submitting thread
                log.exception("a background write failed")
                self._error = exc
            finally:
                self._queue.task_done()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
