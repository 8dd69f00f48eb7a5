"""``/api/v1/locate``: where an address or phone number is, with its evidence."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from lexloci.api.deps import client_address, container_of
from lexloci.errors import InvalidInput
from lexloci.geo import Evidence, Location

router = APIRouter(tags=["geolocation"])


def location_body(query: dict[str, Any], location: Location) -> dict[str, Any]:
    return {"query": query, **location.to_dict()}


@router.get("/locate", summary="Locate an IP address and/or a phone number, with evidence")
def locate(
    request: Request,
    ip: Annotated[str | None, Query(max_length=64, description="IPv4 or IPv6 address")] = None,
    phone: Annotated[
        str | None, Query(max_length=40, description="international number, e.g. +85221234567")
    ] = None,
) -> dict[str, Any]:
    if ip is None and phone is None:
        raise InvalidInput("give ip=ADDRESS and/or phone=+NUMBER")
    locator = container_of(request).locator
    location = locator.locate(Evidence(client_ip=ip, phone=phone))
    return location_body({"ip": ip, "phone": phone}, location)


@router.get("/locate/me", summary="Locate the caller's own client address")
def locate_me(request: Request) -> dict[str, Any]:
    container = container_of(request)
    resolved = client_address(request)
    if resolved.address is None:
        location = container.locator.unknown_client(resolved.reason or "unknown")
    else:
        location = container.locator.locate(Evidence(client_ip=resolved.address))
    body = location_body({"ip": resolved.address, "via": resolved.via}, location)
    if resolved.reason:
        body["client_address_reason"] = resolved.reason
    return body
