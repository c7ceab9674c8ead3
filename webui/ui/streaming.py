"""Coalescing streamed text into a bounded number of UI updates."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

#: The most UI updates per second while a reply streams. The page shows text as fast
#: as people read it; fewer updates leave the CPU to the model (see bench/ui_stream.py).
MAX_UPDATES_PER_SECOND = 10


def coalesced(text: str, deltas: Iterable[str], per_second: float = MAX_UPDATES_PER_SECOND) -> Iterator[str]:
    """Append `deltas` to `text`; yield the whole text at most `per_second` times, and once at the end."""
    interval = 1 / per_second
    last_update = 0.0
    for delta in deltas:
        text += delta
        now = time.monotonic()
        if now - last_update >= interval:
            last_update = now
            yield text
    yield text
