"""Initial schema: providers, OAuth clients, catalogue with its search index, registrations.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provider_products.db.base import BigIntKey, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SQLITE_FTS = [
    # External-content FTS5 index over the application-normalised search text; the tokens are
    # already accent-folded and lower-cased, so unicode61 only splits on the spaces between them.
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
        "provider",
        sa.Column("id", BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider")),
        sa.UniqueConstraint("slug", name=op.f("uq_provider_slug")),
    )
    op.create_table(
        "oauth_client",
        sa.Column("id", BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("provider_id", BigIntKey, nullable=False),
        sa.Column("scopes", sa.String(255), nullable=False),
        sa.Column("rate_limit", sa.String(32), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("secret_rotated_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_client")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oauth_client_client_id")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_oauth_client_provider_id_provider")
        ),
    )
    op.create_index(op.f("ix_oauth_client_provider_id"), "oauth_client", ["provider_id"])
    op.create_table(
        "catalogue_product",
        sa.Column("id", BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("product_code", sa.String(64), nullable=False),
        sa.Column("code_key", sa.String(64), nullable=False),
        sa.Column("product_type", sa.String(16), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("active_ingredient", sa.String(300), nullable=True),
        sa.Column("concentration", sa.String(100), nullable=True),
        sa.Column("pharmaceutical_form", sa.String(100), nullable=True),
        sa.Column("presentation", sa.String(200), nullable=True),
        sa.Column("atc_code", sa.String(16), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("coding_system", sa.String(16), nullable=True),
        sa.Column("coding_code", sa.String(32), nullable=True),
        sa.Column("name_key", sa.String(300), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_product")),
        sa.UniqueConstraint("code_key", name=op.f("uq_catalogue_product_code_key")),
        sa.CheckConstraint(
            "product_type IN ('MEDICATION', 'LAB', 'IMAGING', 'PROCEDURE')",
            name=op.f("ck_catalogue_product_product_type"),
        ),
        sa.CheckConstraint("status IN ('ACTIVE', 'INACTIVE')", name=op.f("ck_catalogue_product_status")),
    )
    op.create_index("ix_catalogue_product_type_code_key", "catalogue_product", ["product_type", "code_key"])
    op.create_index("ix_catalogue_product_name_key", "catalogue_product", ["name_key", "code_key"])
    op.create_table(
        "provider_product",
        sa.Column("id", BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("provider_id", BigIntKey, nullable=False),
        sa.Column("product_id", BigIntKey, nullable=False),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_product")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_provider_product_provider_id_provider")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["catalogue_product.id"],
            name=op.f("fk_provider_product_product_id_catalogue_product"),
        ),
    )
    op.create_index(
        "uq_provider_product_active",
        "provider_product",
        ["provider_id", "product_id"],
        unique=True,
        sqlite_where=sa.text("removed_at IS NULL"),
        postgresql_where=sa.text("removed_at IS NULL"),
    )
    op.create_index(
        "ix_provider_product_history", "provider_product", ["provider_id", "product_id", "registered_at"]
    )
    op.create_index(op.f("ix_provider_product_product_id"), "provider_product", ["product_id"])

    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in _SQLITE_FTS:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_catalogue_product_search_trgm ON catalogue_product "
            "USING gin (search_text gin_trgm_ops)"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("catalogue_search_ai", "catalogue_search_ad", "catalogue_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS catalogue_search")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_catalogue_product_search_trgm")
    op.drop_table("provider_product")
    op.drop_table("catalogue_product")
    op.drop_table("oauth_client")
    op.drop_table("provider")
