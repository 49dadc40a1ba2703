"""Alembic environment: runs on the connection that ``provider_products.db.migrate`` hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from provider_products.db.models import Base

target_metadata = Base.metadata


def _include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # Search indexes are backend-specific and live only in the migrations: SQLite's FTS5 virtual
    # table (with its shadow tables) and PostgreSQL's trigram index.
    if type_ == "table" and name is not None and name.startswith("catalogue_search"):
        return False
    return not (type_ == "index" and name == "ix_catalogue_product_search_trgm")


def run_migrations_online() -> None:
    """Run the migrations on the connection passed in ``config.attributes``."""
    connection: Connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported; run 'provider-products db upgrade'")
run_migrations_online()
