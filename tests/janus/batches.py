"""Event batches as Janus's sampleevh posts them, for tests that post one themselves."""

from __future__ import annotations

from typing import Any

SESSION_ID, HANDLE_ID = 4_217_310_882_519_041, 7_713_004_252_166_210


def event_batch(token: str, remote: str, candidate_type: str = "prflx") -> list[dict[str, Any]]:
    """What Janus's sampleevh posts (grouping on) when a handle attaches and ICE selects a
    pair — copied from a real batch, with the ids and addresses changed."""
    session_id, handle_id = SESSION_ID, HANDLE_ID
    return [
        {
            "emitter": "lexloci-janus",
            "type": 2,
            "timestamp": 1795814314302889,
            "session_id": session_id,
            "handle_id": handle_id,
            "opaque_id": "videoroom-4c1f",
            "event": {"name": "attached", "plugin": "janus.plugin.videoroom", "token": token},
        },
        {
            "emitter": "lexloci-janus",
            "type": 16,
            "subtype": 4,
            "timestamp": 1795814314400524,
            "session_id": session_id,
            "handle_id": handle_id,
            "event": {
                "selected-pair": f"10.123.0.1:20214 [host,udp] <-> {remote}:33024 "
                f"[{candidate_type},udp]",
                "candidates": {
                    "local": {"address": "10.123.0.1", "port": 20214, "type": "host",
                              "transport": "udp", "family": 4},
                    "remote": {"address": remote, "port": 33024, "type": candidate_type,
                               "transport": "udp", "family": 4},
                },
                "stream_id": 1,
                "component_id": 1,
            },
        },
    ]  # fmt: skip
