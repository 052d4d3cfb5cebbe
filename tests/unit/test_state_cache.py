"""StateCache: an LRU of saved model states that never holds more than its byte budget."""

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradio_app.generation.state_cache import StateCache


@dataclass(frozen=True)
class Blob:
    nbytes: int


def test_least_recently_stored_goes_first():
    cache = StateCache(max_bytes=300)
    cache.put("a", Blob(100))
    cache.put("b", Blob(100))
    cache.put("c", Blob(100))
    cache.put("d", Blob(100))  # over budget: "a" is the oldest
    assert cache.keys() == ["b", "c", "d"]
    assert cache.bytes_used == 300
    assert cache.evictions == 1


def test_storing_again_refreshes_and_replaces():
    cache = StateCache(max_bytes=300)
    cache.put("a", Blob(100))
    cache.put("b", Blob(100))
    cache.put("a", Blob(150))  # "a" is now the newest, with its new size
    cache.put("c", Blob(100))  # 350 > 300: "b" goes, not "a"
    assert cache.keys() == ["a", "c"]
    assert cache.bytes_used == 250


def test_a_state_bigger_than_the_budget_is_not_kept_and_drops_the_stale_one():
    cache = StateCache(max_bytes=100)
    cache.put("a", Blob(60))
    assert cache.put("a", Blob(101)) is False
    assert "a" not in cache  # the old, now stale state of "a" must not come back
    assert cache.bytes_used == 0


def test_pop_takes_the_state_out():
    cache = StateCache(max_bytes=100)
    blob = Blob(40)
    cache.put("a", blob)
    assert cache.pop("a") is blob
    assert cache.pop("a") is None
    assert cache.bytes_used == 0 and len(cache) == 0


def test_zero_budget_keeps_nothing_and_negative_is_refused():
    cache = StateCache(max_bytes=0)
    assert cache.put("a", Blob(1)) is False
    assert len(cache) == 0
    with pytest.raises(ValueError, match=">= 0"):
        StateCache(max_bytes=-1)


@given(
    budget=st.integers(0, 1000),
    ops=st.lists(
        st.tuples(st.sampled_from(["put", "pop", "discard"]), st.integers(0, 6), st.integers(0, 1200)), max_size=60
    ),
)
def test_the_bytes_held_never_exceed_the_budget(budget, ops):
    cache = StateCache(max_bytes=budget)
    for op, key, size in ops:
        if op == "put":
            cache.put(key, Blob(size))
        elif op == "pop":
            cache.pop(key)
        else:
            cache.discard(key)
        assert cache.bytes_used <= budget
        assert cache.bytes_used == sum(state.nbytes for state in cache._items.values())
