"""Generate ahead of a slow consumer.

A generation stream produces tokens only while someone pulls it. Gradio pulls a streaming handler,
then postprocesses, diffs and sends the update before pulling again; for a long discussion that
takes milliseconds per update, and the model would sit idle meanwhile (measured: 20 ms per update
cost a 135M model a quarter of its tokens/s). `run_ahead` pulls the stream in a worker thread and
hands the consumer everything produced since its last pull, so the model never waits for the UI.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_ITEM, _END, _ERROR = 0, 1, 2


def run_ahead(source: Iterator[T], *, name: str = "generate-ahead", close_timeout_s: float = 10.0) -> Iterator[T]:
    """Iterate `source` in a thread; yield its items in order, re-raise its exception.

    Closing the returned iterator (a tab closed, the consumer gone) stops the worker after its
    current item and closes `source` in the worker's thread, and waits for that (the model is
    released and the stream's result complete by the time close() returns).
    """
    items: queue.SimpleQueue[tuple[int, object]] = queue.SimpleQueue()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in source:
                items.put((_ITEM, item))
                if stop.is_set():
                    break
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, re-raised in its thread
            items.put((_ERROR, e))
            return
        finally:
            if stop.is_set():
                close = getattr(source, "close", None)
                if close is not None:
                    close()
        items.put((_END, None))

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    return _consume(items, stop, worker, close_timeout_s)


def _consume(
    items: queue.SimpleQueue[tuple[int, object]], stop: threading.Event, worker: threading.Thread, timeout: float
) -> Iterator[T]:
    try:
        while True:
            kind, value = items.get()
            if kind == _ITEM:
                yield value  # type: ignore[misc]
            elif kind == _END:
                return
            else:
                raise value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout)
