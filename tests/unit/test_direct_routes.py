"""Direct dispatch (``lexloci.api.direct``): the same operations, answers and errors as the
FastAPI route each endpoint stays declared on, without FastAPI's per-request machinery."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from lexloci.api.app import DIRECT_ROUTES, create_app
from lexloci.api.direct import DirectRoute, DirectRoutes
from lexloci.api.errors import install_error_handlers
from lexloci.bootstrap import build_container
from lexloci.config import Settings
from lexloci.errors import NotFound


@pytest.fixture
def openapi(tmp_path: Path) -> dict[str, object]:
    container = build_container(Settings(database_url=f"sqlite:///{tmp_path / 'lexloci.db'}"))
    try:
        document: dict[str, object] = create_app(container).openapi()
        return document
    finally:
        container.close()


@pytest.mark.parametrize("route", DIRECT_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_direct_route_is_the_same_documented_operation(
    openapi: dict[str, object], route: DirectRoute
) -> None:
    paths = openapi["paths"]
    assert isinstance(paths, dict)
    operation = paths[route.path][route.method.lower()]
    assert operation["operationId"].startswith(f"{route.endpoint.__name__}_")
    assert "requestBody" in operation


# -- the dispatcher on a small app of its own ---------------------------------------------------

router = APIRouter()


@router.post("/things/{thing_id}/poke", status_code=201)
async def poke(request: Request, thing_id: str) -> Response:
    body = await request.body()
    if thing_id == "missing":
        raise NotFound(f"no thing {thing_id!r}")
    if thing_id == "broken":
        raise RuntimeError("a bug")
    return JSONResponse(
        {"thing": thing_id, "body": body.decode(), "via": request.scope.get("endpoint").__name__},
        status_code=201,
    )


@pytest.fixture(params=["direct", "router"])
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    if request.param == "direct":
        routes = [DirectRoute("POST", "/things/{thing_id}/poke", poke)]
        app.add_middleware(DirectRoutes, routes=routes, handlers=app.exception_handlers)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_answers_as_the_route_does(client: TestClient) -> None:
    response = client.post("/things/t-1/poke", content=b"hello")
    assert response.status_code == 201
    assert response.json() == {"thing": "t-1", "body": "hello", "via": "poke"}


def test_an_error_gets_the_apps_handler_and_the_single_shape(client: TestClient) -> None:
    response = client.post("/things/missing/poke")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_unexpected_error_is_the_generic_500(client: TestClient) -> None:
    response = client.post("/things/broken/poke")
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "internal error; the server log has details",
        }
    }


def test_other_methods_and_paths_are_left_to_the_router(client: TestClient) -> None:
    assert client.get("/things/t-1/poke").json()["error"]["code"] == "method_not_allowed"
    assert client.post("/things/t-1/poke/", follow_redirects=False).status_code == 307
    assert client.post("/things/a/b/poke").json()["error"]["code"] == "not_found"


def test_refuses_an_endpoint_it_could_not_call_like_the_router() -> None:
    def sync(request: Request, thing_id: str) -> Response:
        return Response()

    async def extra(request: Request, thing_id: str, other: str) -> Response:
        return Response()

    with pytest.raises(TypeError, match="must be async"):
        DirectRoute("POST", "/things/{thing_id}/poke", sync)
    with pytest.raises(TypeError, match=re.escape("takes (request, thing_id)")):
        DirectRoute("POST", "/things/{thing_id}/poke", extra)
