"""Settings: the only place lexloci reads the environment (prefix ``LEXLOCI_``).

Every setting can come from the environment or, for the CLI, from an option that overrides it.
Each one is documented in README.md ("Configuration"); a test keeps the two in step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["DEFAULT_DATABASE_URL", "Settings"]

DEFAULT_DATABASE_URL = "sqlite:///lexloci.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEXLOCI_", extra="ignore")

    host: str = Field("127.0.0.1", description="address `lexloci serve` listens on")
    port: int = Field(8000, ge=0, le=65535, description="port `lexloci serve` listens on")
    trust_proxy: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="CIDR ranges whose Forwarded / X-Forwarded-For headers are believed "
        "(comma-separated in the environment)",
    )
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: SQLite by default, or postgresql+psycopg://...",
    )
    geoip_mmdb: Path | None = Field(
        None, description="a MaxMind-format country/city database consulted before iptocc"
    )
    anonymizer_mmdb: Path | None = Field(
        None, description="a GeoIP2 Anonymous-IP style database for VPN/proxy/Tor/hosting flags"
    )
    tor_exit_list: Path | None = Field(
        None, description="a file of Tor exit addresses (one per line or ExitAddress format)"
    )
    node: str = Field(
        "local",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="this meeting node's name (unique in a fleet)",
    )
    bus: str | None = Field(
        None, description="NATS URL of the fleet's bus, e.g. nats://127.0.0.1:4222 (none: one node)"
    )
    bus_stream: str = Field(
        "LEXLOCI",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="the JetStream stream restriction changes go through",
    )
    advertise_url: str | None = Field(
        None, description="the URL clients reach this node at (default http://HOST:PORT)"
    )
    accepts_sessions: bool = Field(
        True, description="whether new sessions may be placed on this node"
    )
    expiry_interval: float = Field(
        5.0, gt=0, le=3600, description="seconds between checks for restrictions that ended"
    )
    groups: Annotated[dict[str, list[str]], NoDecode] = Field(
        default_factory=dict,
        description="extra named territory groups as JSON, "
        'e.g. {"GREATER_BAY": ["CN-GD", "HK", "MO"]}',
    )

    ws_compression: bool = Field(
        False,
        description="whether the signalling WebSocket offers permessage-deflate; off by default: "
        "signalling messages are small, and compressing every broadcast once per member costs "
        "CPU on the node's event loop and a zlib context (hundreds of KiB) per connection",
    )

    gate_writer: Literal["process", "thread"] = Field(
        "process",
        description="who writes the join gate's records (participant and audit entry, durable "
        "before each answer): `process`, a child process of the server with its own "
        "interpreter, or `thread`, a thread of the server, which then shares the interpreter "
        "lock with the event loop (slower under load; for in-memory SQLite it is always this)",
    )

    media: Literal["mesh", "janus"] = Field(
        "mesh",
        description="who carries audio and video: `mesh` (browsers, peer to peer) or `janus` "
        "(the Janus SFU, which lexloci can cut a removed participant off)",
    )
    janus_url: str | None = Field(
        None,
        description="Janus's public HTTP API as clients reach it, e.g. http://127.0.0.1:8088/janus "
        "(returned to each admitted participant)",
    )
    janus_admin_url: str | None = Field(
        None,
        description="Janus's admin API as lexloci reaches it, e.g. http://127.0.0.1:7088/admin",
    )
    janus_admin_secret: SecretStr | None = Field(
        None,
        description="Janus's `general.admin_secret` (at least 16 characters); also keys the "
        "room secrets and participant tokens lexloci derives",
    )
    janus_room_admin_key: SecretStr | None = Field(
        None, description="the VideoRoom plugin's `general.admin_key` (needed to create rooms)"
    )
    janus_event_token: SecretStr | None = Field(
        None,
        description="the password Janus's event handler (sampleevh `backend_pwd`) sends; "
        "without it, media-path events are refused",
    )

    @field_validator("trust_proxy", mode="before")
    @classmethod
    def _split_cidrs(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("groups", mode="before")
    @classmethod
    def _parse_groups(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return {}
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"LEXLOCI_GROUPS is not JSON: {exc}") from None
        return value
