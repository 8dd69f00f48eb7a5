"""Alembic environment: migrations run on the connection lexloci hands over (see
``lexloci.storage.schema``), never on a URL read from a file."""

from __future__ import annotations

from alembic import context

from lexloci.storage import records as _records  # noqa: F401 - declares the tables on metadata
from lexloci.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through lexloci (lexloci db upgrade), not bare alembic")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
