"""One look at the library for the workstation: queue, workers, live previews, and (when
something changed) the tree. The app takes one every half second in a thread worker.

Cheap when nothing happens: the event log is read from the last id seen, and the tree is
re-counted only when an event says something changed. No Textual, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from doorways_tui.store import (
    Image,
    Library,
    QueueCounts,
    QueueItem,
    Theme,
    VariantNode,
    WorkerInfo,
)

QUEUED_SHOWN = 8
FAILED_SHOWN = 5


@dataclass(frozen=True)
class TreeData:
    """The tree's nodes with their counts: every theme and variant, or (``partial``) just
    the variants whose counts a triage changed."""

    themes: tuple[Theme, ...]
    nodes: dict[int, tuple[VariantNode, ...]]  # theme id -> its variants, parents first
    partial: bool = False

    @property
    def empty(self) -> bool:
        return not self.themes and not self.partial


def load_nodes(lib: Library, image_ids: set[int]) -> TreeData:
    """Fresh counts for the variants of these images (indexed lookups per variant, so a
    key press costs the same with 100 images or 100k)."""
    nodes: dict[int, list[VariantNode]] = {}
    for node in lib.tree.nodes_of_images(image_ids):
        nodes.setdefault(node.theme_id, []).append(node)
    return TreeData((), {k: tuple(v) for k, v in nodes.items()}, partial=True)


@dataclass(frozen=True)
class Snapshot:
    queue: tuple[QueueItem, ...]
    counts: QueueCounts
    workers: tuple[WorkerInfo, ...]
    previews: dict[int, Image]  # running job id -> its latest preview image
    last_event: int
    kinds: frozenset[str] = frozenset()  # event kinds since the previous snapshot
    touched: frozenset[int] = frozenset()  # images triaged since (by anyone)
    tree: TreeData | None = None  # only when it may have changed
    images_total: int = 0
    failed: tuple[QueueItem, ...] = field(default=())

    @property
    def running(self) -> tuple[QueueItem, ...]:
        return tuple(q for q in self.queue if q.status == "running")

    @property
    def queued(self) -> tuple[QueueItem, ...]:
        return tuple(q for q in self.queue if q.status == "queued")

    @property
    def alive_workers(self) -> tuple[WorkerInfo, ...]:
        return tuple(w for w in self.workers if w.alive)


def load_tree(lib: Library) -> TreeData:
    themes = tuple(lib.tree.themes())
    return TreeData(themes=themes, nodes={t.id: tuple(lib.tree.nodes(t.id)) for t in themes})


class Poller:
    """Remembers the last event seen, so each snapshot says what changed since."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib
        self.last_event: int | None = None
        self._counts = QueueCounts()
        self._total = 0

    def snapshot(self, *, want_tree: bool = False) -> Snapshot:
        lib = self.lib
        # A worker killed on this machine gives its job back now, not when its heartbeat
        # goes stale (the library the app polls is a writer; a read-only one only looks).
        lib.claims.requeue_gone()
        kinds: set[str] = set()
        touched: set[int] = set()
        if self.last_event is None:
            self.last_event = lib.history.last_event_id()
            want_tree = True
        else:
            while True:
                events = lib.history.events(after_id=self.last_event, limit=500)
                for event in events:
                    kinds.add(event.kind)
                    if event.kind in ("triage", "undo"):
                        image_id = event.payload().get("image_id")
                        if isinstance(image_id, int):
                            touched.add(image_id)
                    self.last_event = event.id
                if len(events) < 500:
                    break
        queue = lib.queue.queue_view(queued_limit=QUEUED_SHOWN, failed_limit=FAILED_SHOWN)
        running = [q for q in queue if q.status == "running"]
        previews: dict[int, Image] = {}
        for item in running:
            for image in lib.images.images_for_job(item.id):
                if image.kind == "preview":
                    previews[item.id] = image
        only_triage = kinds == {"triage"} and not want_tree
        changed = want_tree or (bool(kinds) and not only_triage)
        tree = load_tree(lib) if changed else None
        if only_triage:
            tree = load_nodes(lib, touched)
        if changed:  # counts move only with jobs' events: skip the two scans otherwise
            self._counts = lib.queue.counts()
            self._total = lib.images.final_count()
        return Snapshot(
            queue=tuple(q for q in queue if q.status != "failed"),
            failed=tuple(q for q in queue if q.status == "failed"),
            counts=self._counts,
            workers=tuple(lib.workers.all(include_stopped=False)),
            previews=previews,
            last_event=self.last_event,
            kinds=frozenset(kinds),
            touched=frozenset(touched),
            tree=tree,
            images_total=self._total,
        )
