"""Where the dispatcher's actors live: a Ray cluster (``ray_pool.RayPool``) or, for tests
and the benchmark's baseline, this process (``LocalPool``). Both answer the same calls:
a method call returns a handle to its answer; ``wait`` says which answers are in, without
blocking on a slow actor; ``result`` raises ``ActorGone`` when the actor died."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Sequence
from typing import Any, Protocol


class ActorGone(Exception):
    """The actor died (its process or node is gone): what it held goes back to the queue."""


class Pool(Protocol):
    def existing(self) -> dict[str, Any]: ...  # name -> handle of actors already running

    def spawn(self, name: str, **kwargs: Any) -> Any: ...

    def call(self, handle: Any, method: str, *args: Any, **kwargs: Any) -> Any: ...

    def wait(self, pending: Sequence[Any], timeout: float) -> list[Any]: ...

    def result(self, pending: Any) -> Any: ...

    def kill(self, handle: Any) -> None: ...

    def put(self, data: bytes) -> Any: ...  # something an actor can turn back into data

    def slots(self) -> int: ...  # how many actors the cluster has room for


class LocalPool:
    """Actors as objects of this process, each call in a thread (a threaded Ray actor
    answers the same way). ``factory(**kwargs)`` makes an actor; ``kill`` makes its
    later answers ``ActorGone``."""

    def __init__(self, factory: Callable[..., Any], *, slots: int = 2) -> None:
        self._factory = factory
        self._slots = slots
        self._actors: dict[str, Any] = {}
        self._dead: set[int] = set()
        self._threads = cf.ThreadPoolExecutor(max_workers=16, thread_name_prefix="actor")

    def existing(self) -> dict[str, Any]:
        return {name: a for name, a in self._actors.items() if id(a) not in self._dead}

    def spawn(self, name: str, **kwargs: Any) -> Any:
        actor = self._factory(**kwargs)
        self._actors[name] = actor
        return actor

    def call(self, handle: Any, method: str, *args: Any, **kwargs: Any) -> cf.Future:
        if id(handle) in self._dead:
            future: cf.Future = cf.Future()
            future.set_exception(ActorGone("killed"))
            return future
        return self._threads.submit(getattr(handle, method), *args, **kwargs)

    def wait(self, pending: Sequence[cf.Future], timeout: float) -> list[cf.Future]:
        done, _ = cf.wait(list(pending), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return [p for p in pending if p in done]

    def result(self, pending: cf.Future) -> Any:
        return pending.result()

    def kill(self, handle: Any) -> None:
        self._dead.add(id(handle))
        cancel = getattr(handle, "cancel", None)
        running = getattr(handle, "running", None)
        if cancel is not None and running is not None:  # a dead actor computes nothing more
            cancel(list(running()))

    def put(self, data: bytes) -> bytes:
        return data

    def slots(self) -> int:
        return self._slots

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
