"""The Janus configuration lexloci expects: rendered from one description, written 0600.

``render(deployment)`` returns the five files Janus 1.1.x reads from its configuration folder
(``janus -F FOLDER -C FOLDER/janus.jcfg``):

- ``janus.jcfg`` — ``token_auth`` (every client request needs a token lexloci issued),
  ``admin_secret``, the session timeout, the RTP port range, the ICE interfaces, and every
  plugin, transport, logger and event handler disabled except VideoRoom, HTTP and (when an
  event URL is given) ``sampleevh``;
- ``janus.transport.http.jcfg`` — the public API and the admin API, each on its own address
  and port (the admin API belongs on loopback or a private network: its secret is all that
  guards it);
- ``janus.plugin.videoroom.jcfg`` — the ``admin_key`` without which no room can be created,
  so clients cannot create rooms of their own;
- ``janus.eventhandler.sampleevh.jcfg`` — session, handle, plugin and WebRTC events posted to
  lexloci with HTTP Basic credentials (user ``janus``, the event secret);
- ``janus.logger.jsonlog.jcfg`` is not written: external loggers are disabled.

Invariants: secrets are at least 16 characters of ``[A-Za-z0-9._~+/=-]`` (so they need no
quoting in the configuration syntax), every file is written with mode 0600, and rendering has no
side effects (the tests compare rendered text).

Run ``python -m lexloci.media.janus_deploy FOLDER [--interface IF] [--events-url URL]`` to
write the files; the secrets come from the lexloci settings (``LEXLOCI_JANUS_ADMIN_SECRET``,
``LEXLOCI_JANUS_ROOM_ADMIN_KEY``, ``LEXLOCI_JANUS_EVENT_TOKEN``), never from the command line.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lexloci.errors import ConfigurationError
from lexloci.media.janus import EVENT_USER, MIN_SECRET_LENGTH

__all__ = ["JanusDeployment", "default_library_dir", "main", "render", "write"]

_SECRET = re.compile(r"[A-Za-z0-9._~+/=-]+")
_NAME = re.compile(r"[A-Za-z0-9._:/-]+")  # interface names, addresses, URLs, paths
_KEEP = {
    "plugins": {"libjanus_videoroom.so"},
    "transports": {"libjanus_http.so"},
    "events": {"libjanus_sampleevh.so"},
    "loggers": set(),
}


def default_library_dir() -> Path:
    """Where the installed Janus keeps its plugins (Debian puts it under the multiarch dir)."""
    for pattern in (
        "/usr/lib/*/janus",
        "/usr/lib/janus",
        "/usr/local/lib/janus",
        "/opt/janus/lib/janus",
    ):
        for found in sorted(Path("/").glob(pattern.lstrip("/"))):
            if (found / "plugins").is_dir():
                return found
    return Path("/usr/lib/x86_64-linux-gnu/janus")


@dataclass(frozen=True, slots=True)
class JanusDeployment:
    admin_secret: str
    room_admin_key: str
    event_url: str | None = None
    event_secret: str | None = None
    http_ip: str = "127.0.0.1"
    http_port: int = 8088
    admin_ip: str = "127.0.0.1"
    admin_port: int = 7088
    ice_interfaces: tuple[str, ...] = ()
    rtp_ports: tuple[int, int] = (20000, 40000)
    session_timeout: int = 60
    library_dir: Path = field(default_factory=default_library_dir)
    server_name: str = "lexloci-janus"
    debug_level: int = 4

    def __repr__(self) -> str:
        return (
            f"JanusDeployment(http={self.http_ip}:{self.http_port}, "
            f"admin={self.admin_ip}:{self.admin_port}, events={self.event_url!r})"
        )

    def check(self) -> None:
        secrets = {"admin secret": self.admin_secret, "room admin key": self.room_admin_key}
        if self.event_url is not None:
            if self.event_secret is None:
                raise ConfigurationError("an event URL needs an event secret")
            secrets["event secret"] = self.event_secret
        for what, value in secrets.items():
            if len(value) < MIN_SECRET_LENGTH or not _SECRET.fullmatch(value):
                raise ConfigurationError(
                    f"the Janus {what} must be at least {MIN_SECRET_LENGTH} characters "
                    "of A-Z a-z 0-9 . _ ~ + / = -"
                )
        names = [self.http_ip, self.admin_ip, *self.ice_interfaces, str(self.library_dir)]
        if self.event_url is not None:
            names.append(self.event_url)
        for name in names:
            if not _NAME.fullmatch(name):
                raise ConfigurationError(f"not usable in a Janus configuration: {name!r}")
        low, high = self.rtp_ports
        if not 1024 <= low < high <= 65535:
            raise ConfigurationError("the RTP port range must lie within 1024-65535")


def _disabled(library_dir: Path, kind: str) -> str:
    """Every shared object of ``kind`` Janus would load, except the ones lexloci uses."""
    present = sorted(p.name for p in (library_dir / kind).glob("libjanus_*.so"))
    return ",".join(name for name in present if name not in _KEEP[kind])


def render(deployment: JanusDeployment, folder: Path) -> dict[str, str]:
    """File name -> contents of the configuration, for Janus started with ``-F folder``."""
    deployment.check()
    d = deployment
    lib = d.library_dir
    ice = f'\tice_enforce_list = "{",".join(d.ice_interfaces)}"\n' if d.ice_interfaces else ""
    events_on = d.event_url is not None
    files = {
        "janus.jcfg": (
            "# Written by lexloci.media.janus_deploy: VideoRoom over HTTP, token auth.\n"
            "general: {\n"
            f'\tconfigs_folder = "{folder}"\n'
            f'\tplugins_folder = "{lib}/plugins"\n'
            f'\ttransports_folder = "{lib}/transports"\n'
            f'\tevents_folder = "{lib}/events"\n'
            f'\tloggers_folder = "{lib}/loggers"\n'
            f"\tdebug_level = {d.debug_level}\n"
            f'\tserver_name = "{d.server_name}"\n'
            f'\tadmin_secret = "{d.admin_secret}"\n'
            "\ttoken_auth = true\n"
            f"\tsession_timeout = {d.session_timeout}\n"
            "}\n"
            f'media: {{\n\trtp_port_range = "{d.rtp_ports[0]}-{d.rtp_ports[1]}"\n}}\n'
            f"nat: {{\n{ice}\tignore_mdns = true\n}}\n"
            f'plugins: {{\n\tdisable = "{_disabled(lib, "plugins")}"\n}}\n'
            f'transports: {{\n\tdisable = "{_disabled(lib, "transports")}"\n}}\n'
            f'loggers: {{\n\tdisable = "{_disabled(lib, "loggers")}"\n}}\n'
            "events: {\n"
            f"\tbroadcast = {'true' if events_on else 'false'}\n"
            f'\tdisable = "{_disabled(lib, "events")}"\n'
            "}\n"
        ),
        "janus.transport.http.jcfg": (
            "general: {\n"
            '\tjson = "compact"\n'
            '\tbase_path = "/janus"\n'
            "\thttp = true\n"
            f'\tip = "{d.http_ip}"\n'
            f"\tport = {d.http_port}\n"
            "\thttps = false\n"
            "}\n"
            "admin: {\n"
            '\tadmin_base_path = "/admin"\n'
            "\tadmin_http = true\n"
            f'\tadmin_ip = "{d.admin_ip}"\n'
            f"\tadmin_port = {d.admin_port}\n"
            "\tadmin_https = false\n"
            "}\n"
        ),
        "janus.plugin.videoroom.jcfg": (
            f'general: {{\n\tadmin_key = "{d.room_admin_key}"\n\tlock_rtp_forward = true\n}}\n'
        ),
    }
    if events_on:
        files["janus.eventhandler.sampleevh.jcfg"] = (
            "general: {\n"
            "\tenabled = true\n"
            # Only what lexloci reads: no media statistics, no transport chatter.
            '\tevents = "sessions,handles,plugins,webrtc"\n'
            "\tgrouping = true\n"
            '\tjson = "compact"\n'
            f'\tbackend = "{d.event_url}"\n'
            f'\tbackend_user = "{EVENT_USER}"\n'
            f'\tbackend_pwd = "{d.event_secret}"\n'
            "\tmax_retransmissions = 5\n"
            "\tretransmissions_backoff = 100\n"
            "}\n"
        )
    return files


def write(deployment: JanusDeployment, folder: Path) -> list[Path]:
    """Write the configuration into ``folder`` (created 0700), each file 0600."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for name, text in render(deployment, folder).items():
        path = folder / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        path.chmod(0o600)  # an existing file keeps its mode through O_TRUNC
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    from lexloci.config import Settings

    parser = argparse.ArgumentParser(
        prog="python -m lexloci.media.janus_deploy",
        description="Write the Janus configuration lexloci expects (secrets from LEXLOCI_*).",
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--interface", action="append", default=[], help="ICE interface")
    parser.add_argument("--events-url", help="lexloci's /api/v1/media/janus/events URL")
    parser.add_argument("--http", default="127.0.0.1:8088", help="public API address:port")
    parser.add_argument("--admin", default="127.0.0.1:7088", help="admin API address:port")
    parser.add_argument("--rtp-ports", default="20000-40000")
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        if settings.janus_admin_secret is None or settings.janus_room_admin_key is None:
            raise ConfigurationError(
                "set LEXLOCI_JANUS_ADMIN_SECRET and LEXLOCI_JANUS_ROOM_ADMIN_KEY"
            )
        event_secret = settings.janus_event_token
        http_ip, _, http_port = args.http.rpartition(":")
        admin_ip, _, admin_port = args.admin.rpartition(":")
        low, _, high = args.rtp_ports.partition("-")
        deployment = JanusDeployment(
            admin_secret=settings.janus_admin_secret.get_secret_value(),
            room_admin_key=settings.janus_room_admin_key.get_secret_value(),
            event_url=args.events_url,
            event_secret=event_secret.get_secret_value() if event_secret else None,
            http_ip=http_ip,
            http_port=int(http_port),
            admin_ip=admin_ip,
            admin_port=int(admin_port),
            ice_interfaces=tuple(args.interface),
            rtp_ports=(int(low), int(high)),
        )
        written = write(deployment, args.folder.resolve())
    except (ConfigurationError, ValueError) as exc:
        sys.stderr.write(f"error: {getattr(exc, 'message', exc)}\n")
        return 2
    for path in written:
        sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
