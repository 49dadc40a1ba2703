"""Each catalogue entry records the catalogue revision that last changed it, for the change feed.

Existing entries take the current revision: a client that reads the feed since 0 gets every entry,
one that reads it since the current revision gets nothing until the next import changes something.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provider_products.db.base import BigIntKey

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "catalogue_product",
        sa.Column("revision", BigIntKey, nullable=False, server_default=sa.text("0")),
    )
    op.execute(
        "UPDATE catalogue_product SET revision = "
        "COALESCE((SELECT r.revision FROM catalogue_revision r WHERE r.id = 1), 0)"
    )
    op.create_index("ix_catalogue_product_revision", "catalogue_product", ["revision", "code_key"])


def downgrade() -> None:
    op.drop_index("ix_catalogue_product_revision", table_name="catalogue_product")
    op.drop_column("catalogue_product", "revision")
