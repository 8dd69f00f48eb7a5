"""The garbage collector of a meeting node: tuned for many long-lived connections, and watched.

A node holds every live participant's connection, roster entry and session state for hours.
CPython's cyclic collector walks all of them again at each full collection, and with the
default thresholds (700 allocations per young collection) a node with 10,000 connected
participants ran full collections often enough to spend seconds in them while it admitted or
removed participants — pauses land on whatever is running, a live sweep included. So:

- everything built at start-up is frozen (``gc.freeze``): it lives as long as the process;
- the young generation is collected every ``YOUNG_THRESHOLD`` allocations instead of 700, so
  fewer short-lived objects are promoted and full collections come less often, while a young
  or middle collection stays short (tens of milliseconds: 50,000 was tried and gave pauses of
  over a second in the middle generation under load);
- an enforcement burst (a restriction's sweep: recording the removals and closing their
  connections) runs with automatic collection paused (``paused``), so a full collection
  cannot land in the middle of it; the collector runs again as soon as the burst is over;
- every collection is timed (``gc.callbacks``), and ``/healthz`` reports the counts, the
  total and the longest pause per generation, so an operator can see what the collector costs.

Reference cycles are still collected; the collector is never left disabled.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

__all__ = ["YOUNG_THRESHOLD", "CollectorWatch", "paused"]

YOUNG_THRESHOLD: Final = 10_000


class _Pauses:
    """How many ``paused`` blocks are running, and whether to turn collection back on."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.restore = False

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                self.restore = gc.isenabled()
                gc.disable()
            self.depth += 1

    def leave(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0 and self.restore:
                gc.enable()


_PAUSES = _Pauses()


@contextmanager
def paused() -> Iterator[None]:
    """Automatic collection off while the block runs (nested and concurrent blocks allowed:
    it comes back on when the last one ends). For short bursts only."""
    _PAUSES.enter()
    try:
        yield
    finally:
        _PAUSES.leave()


class CollectorWatch:
    """Counts and times the collector's runs (installed once per process)."""

    _installed: CollectorWatch | None = None
    _install_lock = threading.Lock()

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.total_s = [0.0, 0.0, 0.0]
        self.longest_s = [0.0, 0.0, 0.0]
        self._started = 0.0

    @classmethod
    def install(cls) -> CollectorWatch:
        """Freeze what exists, raise the young threshold, and start timing collections."""
        with cls._install_lock:
            if cls._installed is None:
                watch = cls()
                gc.callbacks.append(watch._callback)
                cls._installed = watch
            gc.collect()
            gc.freeze()
            _, middle, old = gc.get_threshold()
            gc.set_threshold(YOUNG_THRESHOLD, middle, old)
            return cls._installed

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = int(info.get("generation", 0))
        spent = time.perf_counter() - self._started
        self.count[generation] += 1
        self.total_s[generation] += spent
        self.longest_s[generation] = max(self.longest_s[generation], spent)

    def report(self) -> dict[str, Any]:
        return {
            "threshold": list(gc.get_threshold()),
            "frozen_objects": gc.get_freeze_count(),
            "generations": [
                {
                    "collections": self.count[g],
                    "total_ms": round(self.total_s[g] * 1000, 1),
                    "longest_ms": round(self.longest_s[g] * 1000, 1),
                }
                for g in range(3)
            ],
        }
