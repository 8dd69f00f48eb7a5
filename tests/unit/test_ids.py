"""The buffered random pool behind participant ids and tokens (lexloci.ids)."""

from __future__ import annotations

import base64
import os
import threading
import time

import pytest

from lexloci import ids


def test_sizes_and_alphabets_match_the_secrets_module() -> None:
    assert len(ids.token_bytes(16)) == 16
    hex_token = ids.token_hex(8)
    assert len(hex_token) == 16
    assert int(hex_token, 16) >= 0
    url_token = ids.token_urlsafe(32)
    assert len(base64.urlsafe_b64decode(url_token + "=" * (-len(url_token) % 4))) == 32
    assert set(url_token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(ids.token_bytes(5000)) == 5000  # larger than the pool: straight from the kernel


def test_no_value_is_handed_out_twice_across_threads_and_pool_refills() -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def draw() -> None:
        mine = [ids.token_hex(8) for _ in range(3000)]  # several refills of the 4 KiB pool
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 12_000
    assert len(set(seen)) == len(seen)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_reuse_its_parents_pool() -> None:
    ids.token_bytes(8)  # the parent's pool now holds unused bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it draws next, then leave at once
        os.write(write, ids.token_bytes(32))
        os._exit(0)
    os.close(write)
    child = os.read(read, 64)
    os.close(read)
    os.waitpid(pid, 0)
    parent = ids.token_bytes(32)
    assert len(child) == 32
    assert child != parent


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="positive size"):
        ids.token_bytes(0)


def test_time_ordered_ids_sort_by_creation_time_and_stay_distinct() -> None:
    before = time.time_ns() // 1000
    made = [ids.time_ordered_hex() for _ in range(20_000)]
    after = time.time_ns() // 1000
    assert all(len(m) == 26 and int(m, 16) >= 0 for m in made)
    assert len(set(made)) == len(made)
    stamps = [int(m[:14], 16) for m in made]
    assert stamps == sorted(stamps)  # the time part never goes down (one clock, one thread)
    assert before <= stamps[0] <= stamps[-1] <= after
    assert len({m[14:] for m in made}) == len(made)  # the random part alone is distinct too
