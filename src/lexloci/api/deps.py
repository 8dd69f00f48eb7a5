"""Request-scoped helpers shared by routes: the container and the caller's client address."""

from __future__ import annotations

from fastapi import Request

from lexloci.bootstrap import Container
from lexloci.geo import ClientAddress, resolve_client_address

__all__ = ["client_address", "container_of"]


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def client_address(request: Request) -> ClientAddress:
    """The caller's address: the TCP peer, or the forwarding chain if the peer is trusted."""
    container = container_of(request)
    peer = request.client.host if request.client else None
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
    return resolve_client_address(peer, headers, container.trusted_proxies)
