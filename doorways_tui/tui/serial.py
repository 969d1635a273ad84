"""Run a screen's library operations one at a time, in the order they were asked for, in
a thread worker: keys pressed quickly ("3", "n", "u") apply in order and never block the
UI, and every result comes back as a message."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from textual.dom import DOMNode
from textual.message import Message

from doorways_tui.store import StoreError

Op = Callable[[], Any]


class SerialOps:
    """A FIFO of operations drained by one thread worker of ``node``.

    ``to_message(result)`` turns each result into a message posted to ``node``; a
    ``StoreError`` ("no image in view") becomes ``on_refused(text)``; anything else fails
    the worker, which the screen's worker handler reports. An op submitted with a ``key``
    replaces a pending op with the same key (moving through the tree quickly asks only
    for the last node)."""

    def __init__(
        self,
        node: DOMNode,
        to_message: Callable[[Any], Message | None],
        on_refused: Callable[[str], Message],
        group: str = "session",
    ) -> None:
        self.node = node
        self.to_message = to_message
        self.on_refused = on_refused
        self.group = group
        self._ops: deque[tuple[str | None, Op]] = deque()
        self._lock = threading.Lock()
        self._draining = False

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._ops and not self._draining

    def submit(self, op: Op, *, key: str | None = None) -> None:
        with self._lock:
            if key is not None:
                self._ops = deque(item for item in self._ops if item[0] != key)
            self._ops.append((key, op))
            if self._draining:
                return
            self._draining = True
        self.node.run_worker(
            self._drain, name="library", group=self.group, thread=True, exit_on_error=False
        )

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._ops:
                    self._draining = False
                    return
                _, op = self._ops.popleft()
            try:
                result = op()
            except StoreError as exc:
                message: Message | None = self.on_refused(str(exc))
            except BaseException:
                with self._lock:
                    self._draining = False
                    left = bool(self._ops)
                if left:  # keep going with what was asked after the failing op
                    self.node.app.call_from_thread(self._restart)
                raise
            else:
                message = self.to_message(result)
            if message is not None:
                self.node.post_message(message)

    def _restart(self) -> None:
        with self._lock:
            if self._draining or not self._ops:
                return
            self._draining = True
        self.node.run_worker(
            self._drain, name="library", group=self.group, thread=True, exit_on_error=False
        )
