"""Search moves to the in-process index: add the catalogue revision, drop the SQL search indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provider_products.db.base import BigIntKey, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


# The full-text index of revision 0001, restored by the downgrade.
_SQLITE_FTS = [
    """CREATE VIRTUAL TABLE catalogue_search USING fts5(
        search_text, content='catalogue_product', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='1 2 3')""",
    """CREATE TRIGGER catalogue_search_ai AFTER INSERT ON catalogue_product BEGIN
        INSERT INTO catalogue_search(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    """CREATE TRIGGER catalogue_search_ad AFTER DELETE ON catalogue_product BEGIN
        INSERT INTO catalogue_search(catalogue_search, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    END""",
    """CREATE TRIGGER catalogue_search_au AFTER UPDATE OF search_text ON catalogue_product BEGIN
        INSERT INTO catalogue_search(catalogue_search, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
        INSERT INTO catalogue_search(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
]


def upgrade() -> None:
    op.create_table(
        "catalogue_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", BigIntKey, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_revision")),
    )
    # Existing catalogues count as revision 1, so that every process indexes them.
    op.execute(
        "INSERT INTO catalogue_revision (id, revision, updated_at) "
        "SELECT 1, 1, CURRENT_TIMESTAMP WHERE EXISTS (SELECT 1 FROM catalogue_product)"
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("catalogue_search_ai", "catalogue_search_ad", "catalogue_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS catalogue_search")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_catalogue_product_search_trgm")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in _SQLITE_FTS:
            op.execute(statement)
        op.execute("INSERT INTO catalogue_search(catalogue_search) VALUES ('rebuild')")
    elif bind.dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_catalogue_product_search_trgm ON catalogue_product "
            "USING gin (search_text gin_trgm_ops)"
        )
    op.drop_table("catalogue_revision")
