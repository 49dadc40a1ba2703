"""Shared search snapshots: one serialised index per catalogue revision, built once, loaded by all.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provider_products.db.base import BigIntKey, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalogue_index_snapshot",
        sa.Column("revision", BigIntKey, autoincrement=False, nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("size_bytes", BigIntKey, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('building', 'ready')", name=op.f("ck_catalogue_index_snapshot_status")
        ),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_catalogue_index_snapshot")),
    )
    op.create_table(
        "catalogue_index_chunk",
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("token", "number", name=op.f("pk_catalogue_index_chunk")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # The chunks are compressed bitmaps already: spare PostgreSQL a pointless pglz pass.
        op.execute("ALTER TABLE catalogue_index_chunk ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("catalogue_index_chunk")
    op.drop_table("catalogue_index_snapshot")
