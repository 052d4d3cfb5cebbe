"""UpdatePacer: 20 updates/s when updates are cheap, fewer when each one costs more."""

from gradio_app.ui.pacing import UpdatePacer


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def send(pacer, clock, cost):
    with pacer.sending():
        clock.now += cost


def test_cheap_updates_go_at_the_maximum_rate():
    clock = Clock()
    pacer = UpdatePacer(max_per_second=20, clock=clock)
    assert pacer.due()  # the first one always goes
    send(pacer, clock, 0.001)
    assert not pacer.due()
    clock.now += 0.049
    assert not pacer.due()
    clock.now += 0.002
    assert pacer.due()  # 50 ms after the last one


def test_costly_updates_slow_the_pace_to_keep_the_ui_share():
    clock = Clock()
    pacer = UpdatePacer(max_per_second=20, min_per_second=4, ui_share=0.1, clock=clock)
    send(pacer, clock, 0.02)  # a 1,000-message chat: 20 ms per update
    assert abs(pacer.interval - 0.2) < 1e-9  # 5 updates/s: 10% of the time spent on updates
    send(pacer, clock, 0.5)  # a stalled server: never slower than min_per_second
    assert abs(pacer.interval - 0.25) < 1e-9
    send(pacer, clock, 0.0005)  # cheap again: back to the maximum rate
    assert abs(pacer.interval - 0.05) < 1e-9
