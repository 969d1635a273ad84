"""The caches: a bounded thread-safe LRU map, and :class:`ImageCache`'s three levels of
them (decoded, scaled, encoded)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from PIL import Image

__all__ = ["LRU", "ImageCache", "shared_cache"]


class LRU:
    """A thread-safe least-recently-used map bounded by entries and by total weight."""

    def __init__(
        self,
        max_items: int,
        max_weight: int | None = None,
        weigh: Callable[[Any], int] = lambda _: 1,
    ) -> None:
        self.max_items = max_items
        self.max_weight = max_weight
        self._weigh = weigh
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, key: Hashable, *, count_miss: bool = True) -> Any | None:
        """The value for ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            item = self._data.get(key)
            if item is None:
                self.misses += count_miss
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Hashable, value: Any) -> None:
        weight = self._weigh(value)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._data[key] = (value, weight)
            self._weight += weight
            while len(self._data) > 1 and (
                len(self._data) > self.max_items
                or (self.max_weight is not None and self._weight > self.max_weight)
            ):
                _, (_, dropped) = self._data.popitem(last=False)
                self._weight -= dropped
                self.evictions += 1

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    @property
    def weight(self) -> int:
        return self._weight

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._weight = 0


def _pil_bytes(image: Image.Image) -> int:
    return image.width * image.height * len(image.getbands())


class ImageCache:
    """Three LRU levels: decoded originals, scaled images, encoded results.

    Keys: decoded by :class:`FileKey` (path, mtime, size); scaled by (file key, size in
    cells, cell pixel size, kind, background); encoded by the scaled key plus protocol.
    A file rewritten in place has a new mtime, so a new key: nothing stale is served.
    """

    def __init__(
        self,
        *,
        decoded_items: int = 6,
        decoded_bytes: int = 192 * 2**20,
        scaled_items: int = 48,
        scaled_bytes: int = 128 * 2**20,
        encoded_items: int = 96,
        encoded_bytes: int = 96 * 2**20,
    ) -> None:
        self.decoded = LRU(decoded_items, decoded_bytes, _pil_bytes)
        self.scaled = LRU(scaled_items, scaled_bytes, _pil_bytes)
        self.encoded = LRU(encoded_items, encoded_bytes, lambda p: p.nbytes)

    def clear(self) -> None:
        for level in (self.decoded, self.scaled, self.encoded):
            level.clear()


_shared_cache = ImageCache()


def shared_cache() -> ImageCache:
    """The process-wide cache the previews use unless given their own."""
    return _shared_cache
