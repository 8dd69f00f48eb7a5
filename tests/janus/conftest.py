"""The Janus lab fixture: one namespace, one Janus and one lexloci server per test module.

Tests that use it are marked ``janus``: they skip where Janus, ``ip netns``, root or aiortc is
missing, and under CI (which installs all of them) such a skip is a failure (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.functional.live_server import LiveServer, live_server
from tests.janus.lab import Lab, lab_unavailable


@dataclass
class JanusLab:
    lab: Lab
    server: LiveServer

    @property
    def events_url(self) -> str:
        return f"{self.server.base}/api/v1/media/janus/events"


@pytest.fixture(scope="module")
def janus_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusLab]:
    reason = lab_unavailable()
    if reason is not None:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("janus-lab")
    with Lab(folder) as lab, live_server(folder, **lab.secrets.settings()) as server:
        lab.start_janus(f"{server.base}/api/v1/media/janus/events")
        yield JanusLab(lab, server)


@pytest.fixture
def janus(janus_lab: JanusLab) -> Iterator[JanusLab]:
    """The module's lab, with the peers a test started closed after it."""
    try:
        yield janus_lab
    finally:
        janus_lab.lab.close_peers()
