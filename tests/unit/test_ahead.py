"""run_ahead: the producer keeps going while the consumer is busy; order, errors, close."""

import threading

import pytest

from gradio_app.generation.ahead import run_ahead


def test_items_come_in_order_and_the_end_ends():
    assert list(run_ahead(iter(range(100)))) == list(range(100))


def test_the_producer_runs_ahead_of_a_consumer_that_does_not_pull():
    produced = []
    all_done = threading.Event()

    def source():
        for i in range(50):
            produced.append(i)
            yield i
        all_done.set()

    it = run_ahead(source())
    assert next(it) == 0
    # the consumer pulls nothing more, yet everything gets produced
    assert all_done.wait(30)
    assert list(it) == list(range(1, 50))


def test_an_error_in_the_source_reaches_the_consumer():
    def source():
        yield 1
        raise ValueError("model went away")

    it = run_ahead(source())
    assert next(it) == 1
    with pytest.raises(ValueError, match="model went away"):
        next(it)


def test_closing_stops_and_closes_the_source_before_returning():
    closed = threading.Event()
    release = threading.Event()

    def source():
        try:
            i = 0
            while True:
                yield i
                i += 1
                release.wait(0.01)
        finally:
            closed.set()

    it = run_ahead(source())
    assert next(it) == 0
    it.close()
    assert closed.is_set()  # close() waited for the source's own cleanup (the model is released)
