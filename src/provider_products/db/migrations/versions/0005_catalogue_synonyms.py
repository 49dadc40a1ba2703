"""Catalogue synonyms: brand, regional and former names and abbreviations of each entry.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both backends (no table rebuild); the default fills the existing rows.
    op.add_column(
        "catalogue_product",
        sa.Column("synonyms", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    op.drop_column("catalogue_product", "synonyms")
