"""The dispatcher's actors on a Ray cluster: one detached, named actor per GPU.

Detached and named (``doorways-<library>-<slot>`` in the ``doorways`` namespace), so a
dispatcher that dies leaves them running and its successor finds them by name. ``ray`` is
imported here, and only when a cluster command runs: it is an optional extra.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from doorways_engine.errors import DoorwaysError
from doorways_tui.cluster.pool import ActorGone

NAMESPACE = "doorways"
INSTALL_HINT = 'the cluster needs Ray: pip install "doorways[cluster]"'
log = logging.getLogger("doorways.cluster")


class RayMissingError(DoorwaysError):
    """Ray is not installed (the ``cluster`` extra)."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayMissingError(INSTALL_HINT) from None
    return ray


def connect(address: str, *, num_cpus: int | None = None) -> dict[str, Any]:
    """Join the cluster at ``address`` (``ray://HOST:10001``, ``HOST:6379``, ``auto``), or
    start a Ray instance in this process for ``local``. Returns the cluster's resources."""
    ray = import_ray()
    if not ray.is_initialized():
        keywords: dict[str, Any] = {"namespace": NAMESPACE, "log_to_driver": False}
        if address == "local":
            keywords.update(num_cpus=num_cpus, include_dashboard=False)
        else:
            keywords["address"] = address
        ray.init(**keywords)
    return dict(ray.cluster_resources())


class RayPool:
    """Actors of ``actor_class`` (wrapped with ``ray.remote`` here), each holding one GPU,
    or one CPU when ``gpus`` is False (a cluster without GPUs: tests, trials)."""

    def __init__(self, actor_class: type, *, prefix: str, gpus: bool, actors: int) -> None:
        self._ray = import_ray()
        self._prefix = prefix
        self._gpus = gpus
        self._actors = actors
        resources = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        self._remote = self._ray.remote(**resources, max_concurrency=4, max_restarts=0)(actor_class)

    def existing(self) -> dict[str, Any]:
        found = {}
        for entry in self._ray.util.list_named_actors(all_namespaces=True):
            name, namespace = entry["name"], entry["namespace"]
            if namespace != NAMESPACE or not name.startswith(self._prefix):
                continue
            try:
                found[name] = self._ray.get_actor(name, namespace=NAMESPACE)
            except ValueError:  # died between the listing and now
                continue
        return found

    def spawn(self, name: str, **kwargs: Any) -> Any:
        return self._remote.options(
            name=name, namespace=NAMESPACE, lifetime="detached", get_if_exists=True
        ).remote(**kwargs)

    def call(self, handle: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(handle, method).remote(*args, **kwargs)

    def wait(self, pending: Sequence[Any], timeout: float) -> list[Any]:
        if not pending:
            return []
        # The first answer in, then any others already in: a slow actor holds no one up.
        ready, rest = self._ray.wait(list(pending), num_returns=1, timeout=timeout)
        if ready and rest:
            ready += self._ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        return ready

    def result(self, pending: Any) -> Any:
        exceptions = self._ray.exceptions
        try:
            return self._ray.get(pending)
        except (exceptions.RayActorError, exceptions.ActorUnavailableError) as exc:
            raise ActorGone(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None

    def kill(self, handle: Any) -> None:
        try:
            self._ray.kill(handle, no_restart=True)
        except Exception as exc:  # already gone
            log.debug("kill: %s", exc)

    def put(self, data: bytes) -> Any:
        return self._ray.put(data)

    def slots(self) -> int:
        return self._actors
