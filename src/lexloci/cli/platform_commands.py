"""``lexloci platform``: register other platforms, issue their tokens, run delivery workers.

``add`` prints, once, the platform's webhook signing secret (``whsec_…``) and its API token on
standard output (the secret first), and a summary on standard error. Problems are one
``error: ...`` line on standard error with exit status 2, never a traceback.

``deliver`` runs a webhook delivery worker in this process until interrupted: every
``lexloci serve`` node runs one already; extra ones share the work without sending an order
twice (``lexloci.platforms.webhooks``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated

import typer

from lexloci.bootstrap import Container, build_container
from lexloci.config import Settings
from lexloci.errors import LexlociError
from lexloci.platforms import DeliveryPolicy

__all__ = ["app"]

app = typer.Typer(
    name="platform",
    help="Other meeting platforms: register them, issue their tokens, deliver their orders.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy database URL. \\[default: sqlite:///lexloci.db]"),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _container(db: str | None) -> Container:
    try:
        settings = Settings() if db is None else Settings(database_url=db)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise _fail(f"invalid setting: {exc}") from None
    try:
        return build_container(settings)
    except LexlociError as exc:
        raise _fail(exc.message) from None


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The platform's name: a-z, 0-9, '-', '_'.")],
    webhook_url: Annotated[
        str | None,
        typer.Option(help="Where removal orders are POSTed; omit for a pull-only platform."),
    ] = None,
    trust_proxy: Annotated[
        list[str] | None,
        typer.Option(
            help="A CIDR range of the platform's own proxies, whose forwarding headers are "
            "believed in its decision requests (repeatable; default: the server's --trust-proxy).",
            show_default=False,
        ),
    ] = None,
    max_attempts: Annotated[int, typer.Option(help="Attempts before dead-lettering.")] = 12,
    retry_base: Annotated[float, typer.Option(help="Seconds before the first retry.")] = 1.0,
    retry_max: Annotated[float, typer.Option(help="Longest wait between retries, s.")] = 600.0,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer (max 30).")] = 10.0,
    ack_timeout: Annotated[
        float, typer.Option(help="Seconds before an order answered 202 is sent again.")
    ] = 60.0,
    concurrency: Annotated[int, typer.Option(help="Parallel requests to the webhook.")] = 16,
    batch_size: Annotated[
        int, typer.Option(help="Orders per webhook request (1: single-order messages).")
    ] = 1,
    db: DbOption = None,
) -> None:
    """Register a platform; print its signing secret, then its API token (each shown once).

    Example: lexloci platform add acme --webhook-url https://acme.example/lexloci/orders
    """
    try:
        delivery = DeliveryPolicy(
            max_attempts=max_attempts,
            retry_base=dt.timedelta(seconds=retry_base),
            retry_max=dt.timedelta(seconds=retry_max),
            timeout=dt.timedelta(seconds=timeout),
            ack_timeout=dt.timedelta(seconds=ack_timeout),
            concurrency=concurrency,
            batch_size=batch_size,
        )
    except LexlociError as exc:
        raise _fail(exc.message) from None
    container = _container(db)
    try:
        platform = container.platforms.register(
            name, webhook_url, trusted_proxies=trust_proxy or (), delivery=delivery
        )
        token_id, token = container.tokens.create(
            name, container.clock.now(), platform=name, actor=f"cli:platform:{name}"
        )
    except LexlociError as exc:
        raise _fail(exc.message) from None
    finally:
        container.close()
    target = platform.webhook_url or "no webhook (pull: server-sent events)"
    typer.echo(f"registered platform {name} -> {target}; token {token_id}", err=True)
    typer.echo(platform.secret)
    typer.echo(token)


@app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="A registered platform.")],
    holder: Annotated[str | None, typer.Option(help="Token name (default: the platform).")] = None,
    db: DbOption = None,
) -> None:
    """Issue another API token for a platform (to rotate one: then revoke the old one with
    'lexloci token revoke')."""
    container = _container(db)
    try:
        container.platforms.platform(name)
        token_id, secret = container.tokens.create(
            holder or name, container.clock.now(), platform=name, actor=f"cli:platform:{name}"
        )
    except LexlociError as exc:
        raise _fail(exc.message) from None
    finally:
        container.close()
    typer.echo(f"created {token_id} for platform {name}", err=True)
    typer.echo(secret)


@app.command("list")
def list_platforms(db: DbOption = None) -> None:
    """List registered platforms (never their secrets)."""
    container = _container(db)
    try:
        for platform in container.platforms.platforms():
            policy = platform.delivery
            typer.echo(
                f"{platform.name}\t{platform.webhook_url or '(pull)'}\t"
                f"attempts {policy.max_attempts}, timeout {policy.timeout.total_seconds():g}s"
            )
    finally:
        container.close()


@app.command("deliver")
def deliver(
    poll: Annotated[float, typer.Option(help="Seconds between looks for due orders.")] = 1.0,
    db: DbOption = None,
) -> None:
    """Run a webhook delivery worker until interrupted (Ctrl-C)."""
    if poll <= 0:
        raise _fail("--poll must be positive")
    container = _container(db)
    container.delivery.poll = poll
    typer.echo(f"delivering removal orders as {container.delivery.worker}", err=True)
    try:
        asyncio.run(container.delivery.run())
    except KeyboardInterrupt:
        pass
    finally:
        container.close()
