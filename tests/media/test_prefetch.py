"""Decode-ahead: items come in order, at most `depth` ahead, errors arrive where they happened, and a consumer
that stops early stops (and closes) the producer."""
import threading
import time

import pytest

from unav.media.prefetch import prefetched


def counting(n, produced, closed=None, fail_at=None):
    try:
        for i in range(n):
            if i == fail_at:
                raise ValueError(f"item {i} is broken")
            produced.append(i)
            yield i
    finally:
        if closed is not None:
            closed.set()


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_items_arrive_in_order(depth):
    assert list(prefetched(counting(50, []), depth)) == list(range(50))


def test_producer_runs_at_most_depth_items_ahead():
    produced = []
    it = prefetched(counting(100, produced), depth=3)
    assert next(it) == 0
    time.sleep(0.3)   # time enough to run away, were it unbounded
    # consumed 1, 3 waiting in the queue, 1 produced and blocked on the full queue
    assert len(produced) <= 1 + 3 + 1
    assert list(it) == list(range(1, 100))


def test_producer_error_is_raised_at_its_place():
    got = []
    with pytest.raises(ValueError, match="item 7 is broken"):
        for item in prefetched(counting(20, [], fail_at=7), depth=2):
            got.append(item)
    assert got == list(range(7))


def test_stopping_early_stops_and_closes_the_producer():
    closed = threading.Event()
    produced = []
    it = prefetched(counting(10_000, produced, closed), depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    assert closed.is_set()   # the source generator's finally ran (an ffmpeg child would be ended there)
    assert len(produced) < 10
    assert not [t for t in threading.enumerate() if t.name == "unav-prefetch"]


def test_the_producer_works_while_the_consumer_holds_an_item():
    second = threading.Event()

    def source():
        yield 0
        second.set()
        yield 1

    it = prefetched(source(), depth=1)
    assert next(it) == 0
    assert second.wait(timeout=30)   # produced while item 0 is still being consumed (never, without a thread)
    assert list(it) == [1]
    assert not list(prefetched(iter([]), depth=1))
