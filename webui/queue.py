"""A first-in, first-out lock: generations run one at a time, in arrival order."""

from __future__ import annotations

import threading
from collections import deque

from backends.errors import AppError


class QueueFull(AppError):
    """Too many requests are already waiting for the model."""

    status_code = 429
    error_type = "rate_limit_error"


class FifoLock:
    """A lock granted in request order, with a bound on how many may wait."""

    def __init__(self, max_waiting: int = 64) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Event] = deque()
        self._held = False
        self.max_waiting = max_waiting

    @property
    def waiting(self) -> int:
        """How many callers are queued behind the holder."""
        with self._mutex:
            return len(self._waiters)

    def acquire(self, timeout: float | None = None) -> bool:
        """Wait for our turn; False if `timeout` passed first. Raises `QueueFull`."""
        with self._mutex:
            if not self._held and not self._waiters:
                self._held = True
                return True
            if len(self._waiters) >= self.max_waiting:
                raise QueueFull(f"{len(self._waiters)} requests are already waiting for the model")
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # granted just as we gave up
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        """Hand the lock to the next waiter, or free it."""
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()  # ownership passes directly
            else:
                self._held = False

    def __enter__(self) -> FifoLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
