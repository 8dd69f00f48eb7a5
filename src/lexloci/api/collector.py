"""The garbage collector of a meeting node: tuned for many long-lived connections, and watched.

A node holds every live participant's connection, roster entry and session state for hours.
CPython's cyclic collector walks all of them again at each full collection, and with the
default thresholds (700 allocations per young collection) a node with 10,000 connected
participants ran full collections often enough to spend seconds in them while it admitted or
removed participants — pauses land on whatever is running, a live sweep included. So:

- everything built at start-up is frozen (``gc.freeze``): it lives as long as the process;
- the young generation is collected every ``YOUNG_THRESHOLD`` allocations instead of 700, so
  far fewer objects are promoted and full collections come correspondingly less often (each
  young collection costs in proportion to the young objects, so the total work of young
  collections barely changes);
- every collection is timed (``gc.callbacks``), and ``/healthz`` reports the counts, the
  total and the longest pause per generation, so an operator can see what the collector costs.

Reference cycles are still collected; nothing is disabled.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any, Final

__all__ = ["YOUNG_THRESHOLD", "CollectorWatch"]

YOUNG_THRESHOLD: Final = 50_000


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
