"""The collector's pause for enforcement bursts (lexloci.collector.paused)."""

from __future__ import annotations

import gc
import threading

from lexloci import collector


def test_nested_and_concurrent_pauses_restore_collection_only_at_the_end() -> None:
    assert gc.isenabled()
    inside = threading.Event()
    leave = threading.Event()

    def other_burst() -> None:
        with collector.paused():
            inside.set()
            assert leave.wait(10)

    thread = threading.Thread(target=other_burst)
    with collector.paused():
        assert not gc.isenabled()
        thread.start()
        assert inside.wait(10)
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other burst is still running
    leave.set()
    thread.join(10)
    assert gc.isenabled()


def test_a_failing_burst_turns_collection_back_on() -> None:
    try:
        with collector.paused():
            raise RuntimeError("the burst failed")
    except RuntimeError:
        pass
    assert gc.isenabled()


def test_a_collector_disabled_by_the_operator_stays_disabled() -> None:
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_watch_reports_collections_per_generation() -> None:
    # Installing freezes what exists, as every app's start-up does in this test process; it is
    # not undone here: unfreezing would hand the collector whatever earlier tests left frozen.
    watch = collector.CollectorWatch.install()
    before = watch.report()["generations"][2]["collections"]
    gc.collect()
    report = watch.report()
    assert report["generations"][2]["collections"] == before + 1
    assert report["threshold"][0] == collector.YOUNG_THRESHOLD
