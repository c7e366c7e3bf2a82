"""An iterator's items produced ahead by a background thread, so that producing them (ffmpeg decoding, resizing)
overlaps with consuming them (network forwards, which release the GIL). At most `depth` items wait, so memory
stays bounded whatever the video's length."""
from __future__ import annotations

import queue
import threading
from typing import Iterator, TypeVar

T = TypeVar("T")
_END = object()


def prefetched(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield what `items` yields, produced by a daemon thread up to `depth` items ahead. An exception of the
    producer is raised here in its place; closing this generator (or an exception in the consumer) stops the
    producer after the item it is on and closes `items` (which ends an ffmpeg child). depth 0: no thread."""
    if depth <= 0:
        yield from items
        return
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, _END))
        except BaseException as err:  # handed to the consumer, raised there
            put((False, err))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="unav-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = ready.get()
            if not ok:
                raise item  # type: ignore[misc]
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
