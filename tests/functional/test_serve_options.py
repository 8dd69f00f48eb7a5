"""``lexloci serve`` options that only a real server process shows: WebSocket compression."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.functional.servers import running_server


async def _extensions(base: str) -> list[str]:
    """The extensions the signalling endpoint agreed to, for a client offering permessage-deflate
    (as browsers and the ``websockets`` client do by default)."""
    url = base.replace("http", "ws") + "/api/v1/sessions/ses_none/signal"
    async with connect(url, compression="deflate") as ws:
        return [extension.name for extension in ws.protocol.extensions]


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, []),
        (["--ws-compression"], {}, ["permessage-deflate"]),
        ([], {"LEXLOCI_WS_COMPRESSION": "true"}, ["permessage-deflate"]),
        (["--no-ws-compression"], {"LEXLOCI_WS_COMPRESSION": "true"}, []),
    ],
    ids=["default-off", "flag-on", "env-on", "flag-overrides-env"],
)
def test_signalling_compression_is_off_unless_asked_for(
    tmp_path: Path, args: list[str], env: dict[str, str], expected: list[str]
) -> None:
    with running_server(args, tmp_path, env=env) as base:
        assert asyncio.run(_extensions(base)) == expected
