"""The ``lexloci`` command line.

Every command validates its input and reports problems as ``error: ...`` on standard error with
exit status 2 (bad input) or 1 (a check failed), never a traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from lexloci import __version__
from lexloci.bootstrap import Container, build_container, build_locator
from lexloci.cli.audit_commands import app as audit_app
from lexloci.cli.platform_commands import app as platform_app
from lexloci.cli.report_commands import app as report_app
from lexloci.config import Settings
from lexloci.errors import ConfigurationError, InvalidInput, LexlociError
from lexloci.geo import Evidence, Location, Locator

__all__ = ["app", "main"]

app = typer.Typer(
    name="lexloci",
    help=(
        "Enforce a government's demand only where its law applies: block and remove the "
        "meeting participants located in the requesting jurisdiction, and nobody else."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def fail(message: str, status: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(status)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lexloci {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """lexloci: the law of the place."""


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise fail(f"invalid setting: {exc}") from None


def _media_line(settings: Settings) -> str:
    if settings.media != "janus":
        return settings.media
    events = (
        "on" if settings.janus_event_token is not None else "off (no LEXLOCI_JANUS_EVENT_TOKEN)"
    )
    return (
        f"janus {settings.janus_url}, admin {settings.janus_admin_url}, media-path events {events}"
    )


def _locate_one(locator: Locator, query: str) -> Location:
    if query.strip().startswith("+"):
        return locator.locate(Evidence(phone=query))
    return locator.locate(Evidence(client_ip=query))


def _text_line(query: str, location: Location) -> str:
    territory = location.territory or "unknown"
    parts = []
    for signal in location.signals:
        if len(signal.answers) > 3:  # a shared calling code: say how many, not all 25
            parts.append(f"{signal.answers[0].source}={len(signal.answers)} territories")
        else:
            parts += [f"{a.source}={a.territory or a.raw or '-'}" for a in signal.answers]
    sources = ",".join(parts)
    flags = ",".join(sorted(f.value for f in location.flags)) or "-"
    line = f"{query}\t{territory}\t{sources or '-'}\t{flags}"
    if location.territory is None:
        why = [s.detail or (s.reason.value if s.reason else "") for s in location.signals]
        candidates = sorted({c for s in location.signals for c in s.candidates})
        if candidates:
            why.append("candidates " + ",".join(candidates))
        line += "\t(" + "; ".join(w for w in why if w) + ")"
    return line


@app.command()
def locate(
    queries: Annotated[
        list[str],
        typer.Argument(
            help="IP addresses (IPv4 or IPv6) or international phone numbers starting with +.",
            show_default=False,
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list instead of one line per query.")
    ] = False,
    geoip_mmdb: Annotated[
        str | None,
        typer.Option(help="A MaxMind-format database to ask before the embedded RIR data."),
    ] = None,
) -> None:
    """Locate IP addresses and dial-in phone numbers, with their evidence.

    One line per query: query, territory (or unknown), the sources that answered, the anonymizer
    flags, and why when the territory is unknown.

    Example: lexloci locate 223.5.5.5 202.175.3.3 +85221234567 10.0.0.1 --json
    """
    try:
        locator = build_locator(_settings(geoip_mmdb=geoip_mmdb))
    except LexlociError as exc:
        raise fail(exc.message) from None
    results: list[dict[str, Any]] = []
    failed = False
    for query in queries:
        try:
            location = _locate_one(locator, query)
        except InvalidInput as exc:
            typer.echo(f"error: {exc.message}", err=True)
            failed = True
            continue
        if as_json:
            results.append({"query": query, **location.to_dict()})
        else:
            typer.echo(_text_line(query, location))
    if as_json:
        typer.echo(json.dumps(results, indent=2, ensure_ascii=False))
    if failed:
        raise typer.Exit(2)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on. \\[default: 127.0.0.1]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on. \\[default: 8000]")] = None,
    trust_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trust-proxy",
            help="CIDR of a reverse proxy whose Forwarded / X-Forwarded-For headers are believed. "
            "Repeatable. Without it, forwarding headers are ignored.",
            show_default=False,
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="SQLAlchemy database URL. \\[default: sqlite:///lexloci.db]"),
    ] = None,
    node: Annotated[
        str | None,
        typer.Option(help="This meeting node's name, unique in a fleet. \\[default: local]"),
    ] = None,
    bus: Annotated[
        str | None,
        typer.Option(
            help="NATS URL of the fleet's bus, e.g. nats://127.0.0.1:4222.", show_default=False
        ),
    ] = None,
    advertise_url: Annotated[
        str | None,
        typer.Option(help="The URL clients reach this node at. \\[default: http://HOST:PORT]"),
    ] = None,
    sessions: Annotated[
        bool | None,
        typer.Option(
            "--sessions/--no-sessions",
            help="Whether sessions may be placed on this node "
            "(--no-sessions for an API-only process).",
            show_default=False,
        ),
    ] = None,
    ws_compression: Annotated[
        bool | None,
        typer.Option(
            "--ws-compression/--no-ws-compression",
            help="Offer permessage-deflate on the signalling WebSocket; it costs the node CPU "
            "and memory for every member of every broadcast. \\[default: off]",
            show_default=False,
        ),
    ] = None,
    gate_writer: Annotated[
        str | None,
        typer.Option(
            help="Who writes the join gate's records, durable before each answer: process (a "
            "child process of the server) or thread (a thread of the server, sharing the "
            "interpreter with the event loop; slower under load). \\[default: process]",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    media: Annotated[
        str | None,
        typer.Option(
            help="Media plane: mesh (peer to peer) or janus (the Janus SFU; its secrets come "
            "from LEXLOCI_JANUS_ADMIN_SECRET, LEXLOCI_JANUS_ROOM_ADMIN_KEY and "
            "LEXLOCI_JANUS_EVENT_TOKEN). \\[default: mesh]",
            show_default=False,
        ),
    ] = None,
    janus_url: Annotated[
        str | None,
        typer.Option(
            help="Janus's public HTTP API as clients reach it, e.g. http://127.0.0.1:8088/janus.",
            show_default=False,
        ),
    ] = None,
    janus_admin_url: Annotated[
        str | None,
        typer.Option(
            help="Janus's admin API as lexloci reaches it, e.g. http://127.0.0.1:7088/admin.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the lexloci server (HTTP API, meeting service, admin console).

    Defaults are embedded: SQLite in ./lexloci.db and the bundled RIR geolocation data, so
    `lexloci serve` works with nothing else installed.
    """
    import uvicorn

    from lexloci.api.app import create_app
    from lexloci.storage.engine import describe_url

    settings = _settings(
        host=host,
        port=port,
        trust_proxy=trust_proxy,
        database_url=db,
        node=node,
        bus=bus,
        advertise_url=advertise_url,
        accepts_sessions=sessions,
        media=media,
        janus_url=janus_url,
        janus_admin_url=janus_admin_url,
        ws_compression=ws_compression,
        gate_writer=gate_writer,
    )
    try:
        container = build_container(settings)
    except (ConfigurationError, InvalidInput) as exc:
        raise fail(exc.message) from None
    application = create_app(container)
    typer.echo(
        f"lexloci {__version__} node {settings.node} on http://{settings.host}:{settings.port} "
        f"(database {describe_url(settings.database_url)}; bus {settings.bus or 'in-process'}; "
        f"trusted proxies: {', '.join(settings.trust_proxy) or 'none'}; "
        f"media: {_media_line(settings)})",
        err=True,
    )
    # proxy_headers=False: uvicorn must not rewrite the peer address from forwarding headers;
    # lexloci believes them only from the proxies configured with --trust-proxy.
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        proxy_headers=False,
        server_header=False,
        ws_per_message_deflate=settings.ws_compression,
        log_level=log_level,
    )


app.add_typer(audit_app, name="audit")
app.add_typer(report_app, name="report")
app.add_typer(platform_app, name="platform")

token_app = typer.Typer(
    name="token",
    help="Create, list and revoke bearer tokens for staff roles and hosts.",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")


def _database(db: str | None) -> Container:
    try:
        return build_container(_settings(database_url=db))
    except LexlociError as exc:
        raise fail(exc.message) from None


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who holds the token (a person's name or handle).")],
    role: Annotated[
        str | None,
        typer.Option(help="admin, intake, reviewer, approver or auditor.", show_default=False),
    ] = None,
    account: Annotated[
        str | None, typer.Option(help="A host account id (instead of a role).", show_default=False)
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="SQLAlchemy database URL. \\[default: sqlite:///lexloci.db]"),
    ] = None,
) -> None:
    """Create a bearer token and print it (it is shown once; only its hash is stored).

    One person may hold several roles through several tokens with the same --name; the
    two-person rule compares names, so whoever took a case in can never approve it.

    Example: lexloci token create --role approver --name bob
    """
    from lexloci.auth import Role

    if (role is None) == (account is None):
        raise fail("give either --role ROLE or --account ACCOUNT_ID")
    parsed: Role | None = None
    if role is not None:
        try:
            parsed = Role(role.strip().lower())
        except ValueError:
            raise fail(
                f"unknown role {role!r}; one of " + ", ".join(r.value for r in Role)
            ) from None
    container = _database(db)
    try:
        token_id, token = container.tokens.create(
            name, container.clock.now(), role=parsed, account_id=account, actor=f"cli:{name}"
        )
    except LexlociError as exc:
        raise fail(exc.message) from None
    finally:
        container.close()
    typer.echo(
        f"created {token_id} for {name} ({parsed.value if parsed else 'host of ' + str(account)})",
        err=True,
    )
    typer.echo(token)


@token_app.command("list")
def token_list(
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy database URL.")] = None,
) -> None:
    """List tokens (never their secrets)."""
    container = _database(db)
    try:
        for row in container.tokens.list():
            state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
            holder = row["role"] or f"host of {row['account_id']}"
            typer.echo(f"{row['id']}\t{row['name']}\t{holder}\t{state}")
    finally:
        container.close()


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token id (tok_...) from 'token list'.")],
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy database URL.")] = None,
) -> None:
    """Revoke a token: it stops working at once."""
    container = _database(db)
    try:
        container.tokens.revoke(token_id, container.clock.now())
    except LexlociError as exc:
        raise fail(exc.message) from None
    finally:
        container.close()
    typer.echo(f"revoked {token_id}")


db_app = typer.Typer(
    name="db", help="Database schema: apply migrations, show the revision.", no_args_is_help=True
)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    db: Annotated[
        str | None,
        typer.Option("--db", help="SQLAlchemy database URL. \\[default: sqlite:///lexloci.db]"),
    ] = None,
) -> None:
    """Apply every migration this lexloci ships that the database does not have yet.

    Back up a production database first. `lexloci serve` refuses to start on an out-of-date
    schema and tells you to run this; a new, empty database needs no upgrade.
    """
    from lexloci.storage import schema
    from lexloci.storage.engine import describe_url, make_engine

    settings = _settings(database_url=db)
    try:
        engine = make_engine(settings.database_url)
        before, after = schema.upgrade(engine)
    except LexlociError as exc:
        raise fail(exc.message) from None
    except SQLAlchemyError as exc:
        where = describe_url(settings.database_url)
        raise fail(f"cannot upgrade {where}: {getattr(exc, 'orig', exc)}") from None
    engine.dispose()
    if before == after:
        typer.echo(f"{describe_url(settings.database_url)} is up to date (revision {after})")
    else:
        typer.echo(f"{describe_url(settings.database_url)}: revision {before or 'none'} -> {after}")


@db_app.command("current")
def db_current(
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy database URL.")] = None,
) -> None:
    """Print the database's schema revision and the one this lexloci needs."""
    from lexloci.storage import schema
    from lexloci.storage.engine import make_engine

    settings = _settings(database_url=db)
    try:
        engine = make_engine(settings.database_url, must_exist=True)
        current = schema.current_revision(engine)
    except LexlociError as exc:
        raise fail(exc.message) from None
    except SQLAlchemyError as exc:
        raise fail(f"cannot read the database: {exc.__class__.__name__}") from None
    engine.dispose()
    head = schema.head_revision()
    state = "up to date" if current == head else "needs 'lexloci db upgrade'"
    typer.echo(f"revision {current or 'none'} (this lexloci needs {head}: {state})")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
