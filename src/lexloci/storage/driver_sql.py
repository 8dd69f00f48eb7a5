"""Plain driver SQL for the writes on hot paths, written once for both backends.

Where lexloci writes one row per join (the audit entry, the participant) or thousands of rows
at once (a sweep's orders and removals, their delivery results), SQLAlchemy's per-statement
compile lookup and per-row parameter processing cost more than the statements themselves, so
those statements go to the driver (``Connection.exec_driver_sql``). Their text is a template
rendered per dialect (``render``):

- ``{p}``: a parameter, as the driver's placeholder (``?`` for sqlite3, ``%s`` for psycopg);
- ``{json}``: a parameter for a JSON column, given as JSON text (PostgreSQL casts it);
- ``{time}``, ``{text}``: a parameter whose type PostgreSQL cannot infer from the statement
  (psycopg sends parameters untyped; e.g. as the first argument of ``COALESCE``).

Times are bound as a ``UTCDateTime`` column binds them (``time_binder``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy.engine import Dialect

from lexloci.storage.records import UTCDateTime

__all__ = ["marks", "placeholder", "render", "time_binder"]

_PLACEHOLDERS: Final = {"qmark": "?", "format": "%s", "pyformat": "%s"}
_POSTGRES_CASTS: Final = {"json": "JSON", "time": "TIMESTAMPTZ", "text": "VARCHAR"}


def placeholder(dialect: Dialect) -> str:
    """The driver's parameter placeholder; ValueError for a paramstyle lexloci does not use."""
    mark = _PLACEHOLDERS.get(dialect.paramstyle)
    if mark is None:
        raise ValueError(f"unsupported DBAPI paramstyle {dialect.paramstyle!r}")
    return mark


def marks(dialect: Dialect, count: int) -> str:
    """``count`` placeholders, comma-separated (an ``IN (...)`` list)."""
    return ", ".join([placeholder(dialect)] * count)


def render(template: str, dialect: Dialect) -> str:
    """``template`` (see the module docstring) as SQL text for ``dialect``."""
    return _render(template, dialect.name, placeholder(dialect))


@functools.cache
def _render(template: str, backend: str, mark: str) -> str:
    if backend == "postgresql":
        casts = {name: f"CAST({mark} AS {kind})" for name, kind in _POSTGRES_CASTS.items()}
    else:
        casts = dict.fromkeys(_POSTGRES_CASTS, mark)
    return template.format(p=mark, **casts)


@functools.cache
def time_binder(dialect: Dialect) -> Callable[[dt.datetime], Any]:
    """How a ``UTCDateTime`` column binds a time on ``dialect``."""
    process = UTCDateTime().bind_processor(dialect)
    if process is None:
        return lambda moment: moment
    return process
