"""Saved model states per discussion: an LRU bounded in bytes.

llama.cpp keeps one evaluated prompt in its KV cache. When two discussions take turns, each turn
would evict the other's history and the next turn of the other would re-evaluate it whole. The
binding therefore saves the live state of a discussion before another one overwrites it, and puts
it back when that discussion speaks again. States are big (for SmolLM2-135M about 23 KB per
token, 94 MB for a full 4,096-token context), so the store is bounded by a byte budget and drops
the least recently used states first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

# The default budget: five full 4,096-token contexts of the default model, a few dozen typical
# discussions; small next to the RAM any machine that runs a model has.
DEFAULT_STATE_CACHE_BYTES = 512 * 2**20


class Sized(Protocol):
    @property
    def nbytes(self) -> int: ...


S = TypeVar("S", bound=Sized)


class StateCache(Generic[S]):
    """key -> state, least recently used evicted first; never holds more than `max_bytes`.

    A state larger than the whole budget is not kept (storing it would evict everything else and
    still break the bound). Thread-safe: the binding uses it under the generation queue, but a
    discussion may be forgotten from another thread.
    """

    def __init__(self, max_bytes: int = DEFAULT_STATE_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"the state cache budget must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, S] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evictions = 0

    def put(self, key: Hashable, state: S) -> bool:
        """Store `state` as the newest; False if it is too big to keep at all."""
        with self._lock:
            self._remove(key)
            if state.nbytes > self.max_bytes:
                return False
            self._items[key] = state
            self._bytes += state.nbytes
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes
                self.evictions += 1
            return True

    def pop(self, key: Hashable) -> S | None:
        """Take the state out (the caller makes it live; it is saved again when switched away)."""
        with self._lock:
            state = self._items.get(key)
            self._remove(key)
            return state

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._remove(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def _remove(self, key: Hashable) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= old.nbytes

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def keys(self) -> list[Hashable]:
        """Oldest first."""
        with self._lock:
            return list(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)
