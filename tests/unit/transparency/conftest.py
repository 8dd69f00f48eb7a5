"""The scripted log, run once (no test changes it), and throw-away copies for tests that do."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from lexloci.clock import FixedClock
from lexloci.storage.audit import SqlAuditLog
from lexloci.storage.engine import make_engine
from tests.unit.transparency.scripted import Script, run_script


@pytest.fixture(scope="session")
def script(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Script]:
    scripted = run_script(tmp_path_factory.mktemp("scripted"))
    yield scripted
    scripted.container.close()


@pytest.fixture
def log_copy(script: Script, tmp_path: Path) -> Iterator[SqlAuditLog]:
    """An audit log with the scripted log's entries, in a database of its own."""
    source = script.container.engine.url.database
    assert source is not None
    target = tmp_path / "copy.db"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    engine = make_engine(f"sqlite:///{target}")
    yield SqlAuditLog(engine, FixedClock(script.clock.now()))
    engine.dispose()
