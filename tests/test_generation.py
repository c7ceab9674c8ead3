"""The wrapper above backends: stop strings, cancellation, the FIFO queue."""

from __future__ import annotations

import threading
import time

import pytest

from backends.base import FinishReason, GenerationRequest
from backends.sampling import SamplingParams
from tests.fakes import ScriptedBackend
from webui.generation import GenerationStream, StopStringFilter
from webui.queue import FifoLock, QueueFull


def feed_all(stop: list[str], pieces: list[str]) -> tuple[str, str | None]:
    filt = StopStringFilter(stop)
    out = "".join(filt.feed(p) for p in pieces)
    if filt.matched is None:
        out += filt.flush()
    return out, filt.matched


def test_stop_string_split_across_pieces_is_cut() -> None:
    assert feed_all(["###"], ["Hello #", "#", "# world"]) == ("Hello ", "###")


def test_partial_stop_prefix_is_held_then_released() -> None:
    filt = StopStringFilter(["</end>"])
    assert filt.feed("a </e") == "a "
    assert filt.feed("xample") == "</example"
    assert filt.matched is None


def test_earliest_of_several_stop_strings_wins() -> None:
    assert feed_all(["world", "lo"], ["hello world"]) == ("hel", "lo")


def test_no_stop_strings_passes_text_through() -> None:
    assert feed_all([], ["a", "b"]) == ("ab", None)


def test_stream_cuts_at_stop_string_and_stops_backend() -> None:
    backend = ScriptedBackend()
    backend.enqueue("The ", "answer", " is", " 4", "2.", " STOP", " more", " text")
    request = GenerationRequest(prompt="q", params=SamplingParams(stop=("STOP",)))
    stream = GenerationStream(backend, request)
    assert "".join(stream) == "The answer is 42. "
    assert stream.completion is not None
    assert stream.completion.finish_reason is FinishReason.STOP
    assert stream.completion.stop_string == "STOP"
    assert stream.completion.timings.generated_tokens == 6  # the backend stopped right after the match


def test_cancel_from_another_thread_stops_the_stream() -> None:
    backend = ScriptedBackend()
    backend.enqueue(*["x"] * 10_000)
    stream = GenerationStream(backend, GenerationRequest(prompt="q"))
    received = []
    for piece in stream:
        received.append(piece)
        if len(received) == 5:
            threading.Thread(target=stream.cancel.set).start()
            time.sleep(0.05)
    assert len(received) <= 7
    assert stream.completion is not None
    assert stream.completion.finish_reason is FinishReason.CANCELLED


def test_fifo_lock_grants_in_arrival_order() -> None:
    lock = FifoLock()
    lock.acquire()
    order: list[int] = []
    threads = []
    for index in range(5):

        def work(i: int = index) -> None:
            with lock:
                order.append(i)

        thread = threading.Thread(target=work)
        thread.start()
        threads.append(thread)
        while lock.waiting < index + 1:
            time.sleep(0.001)
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_fifo_lock_bounds_the_queue_and_times_out() -> None:
    lock = FifoLock(max_waiting=1)
    lock.acquire()
    waiter = threading.Thread(target=lambda: lock.acquire(timeout=0.5))
    waiter.start()
    while lock.waiting < 1:
        time.sleep(0.001)
    with pytest.raises(QueueFull):
        lock.acquire()
    waiter.join()
    assert lock.waiting == 0  # the timed-out waiter left the queue
    lock.release()
    assert lock.acquire(timeout=0.1)
