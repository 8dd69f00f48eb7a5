"""Direct dispatch for the hottest endpoints, in front of FastAPI's router.

For every request FastAPI walks its routes (each included router, each route's pattern in
turn, with the scope bookkeeping of included routers), solves the endpoint's parameters (path
parameters and the ``Request`` as dependencies) and opens and closes two exit stacks. For the
join gate that machinery cost more than the gate's own work on the event loop (measured, see
docs/performance.md, issue 4). A few endpoints need none of it: an ``async`` function that
takes the ``Request`` and string path parameters and returns a ``Response``.
``DirectRoutes`` serves those from a table of (method, path template, endpoint).

Invariants:

- **One function, two dispatchers.** Each endpoint stays declared on its FastAPI router,
  unchanged: the OpenAPI document is the router's, and every request the table does not take
  (another method, a path its pattern refuses, such as one with a trailing slash) goes through
  FastAPI as before. ``tests/unit/test_direct_routes.py`` checks that every direct route is
  the same operation in the OpenAPI document.
- **The same errors.** An exception from a direct endpoint is answered by the app's own
  exception handlers (``lexloci.api.errors``), looked up by the exception's class as
  Starlette's ``ExceptionMiddleware`` does; one without a handler (or whose handler is the
  catch-all ``Exception`` one) propagates to ``ServerErrorMiddleware``, which answers 500
  exactly as for any other route.
- **Inside the body limit.** ``create_app`` installs this inside ``BodyLimit``, so an
  oversized body is refused (413) before an endpoint reads it.
- Path parameters match as FastAPI's would (``starlette.routing.compile_path``, on the path
  below ``root_path``); the endpoint is called with their converted values as keywords.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["DirectRoute", "DirectRoutes"]

Endpoint = Callable[..., Awaitable[Response]]
ExceptionHandler = Callable[[Request, Exception], Any]


@dataclass(frozen=True, slots=True)
class DirectRoute:
    method: str
    path: str  # the template, as declared on the router: /api/v1/sessions/{session_id}/join
    endpoint: Endpoint

    def __post_init__(self) -> None:
        _, _, convertors = compile_path(self.path)
        if not inspect.iscoroutinefunction(self.endpoint):
            raise TypeError(f"{self.endpoint.__qualname__}: a direct endpoint must be async")
        names = list(inspect.signature(self.endpoint).parameters)
        if names != ["request", *convertors]:
            raise TypeError(
                f"{self.endpoint.__qualname__}{inspect.signature(self.endpoint)}: a direct "
                f"endpoint takes (request, {', '.join(convertors)}) and nothing else"
            )


class _Compiled:
    __slots__ = ("convertors", "endpoint", "regex", "suffix")

    def __init__(self, route: DirectRoute) -> None:
        self.regex: re.Pattern[str]
        self.convertors: dict[str, Convertor[Any]]
        self.regex, _, self.convertors = compile_path(route.path)
        self.endpoint = route.endpoint
        # The template's literal end: every other request is turned away by one endswith.
        self.suffix = route.path.rpartition("}")[2]


class DirectRoutes:
    """ASGI middleware: serve ``routes`` directly, pass everything else to ``app``.

    ``handlers`` are the application's exception handlers (``FastAPI.exception_handlers``),
    read at each error so that the table and the app never disagree."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Iterable[DirectRoute],
        handlers: Mapping[Any, Callable[..., Any]],
    ) -> None:
        self.app = app
        self._handlers = handlers
        self._routes: dict[str, list[_Compiled]] = {}
        for route in routes:
            self._routes.setdefault(route.method, []).append(_Compiled(route))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            candidates = self._routes.get(scope["method"])
            if candidates is not None:
                path = _route_path(scope)
                for route in candidates:
                    match = route.regex.match(path) if path.endswith(route.suffix) else None
                    if match is not None:
                        await self._serve(route, match, scope, receive, send)
                        return
        await self.app(scope, receive, send)

    async def _serve(
        self, route: _Compiled, match: re.Match[str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        params = {
            name: route.convertors[name].convert(value) for name, value in match.groupdict().items()
        }
        scope["endpoint"] = route.endpoint
        scope["path_params"] = params
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request, **params)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> ExceptionHandler | None:
        handlers = self._handlers
        if isinstance(exc, HTTPException) and exc.status_code in handlers:
            return handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls is Exception:
                # The catch-all handler is ServerErrorMiddleware's (500, logged): let it answer.
                return None
            if cls in handlers:
                return handlers[cls]
        return None


def _route_path(scope: Scope) -> str:
    """The path below ``root_path``, as Starlette's router matches it (``get_route_path``)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path
