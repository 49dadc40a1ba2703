"""Downstream records: pre-authorizations, prescriptions and claims, with their product lines.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provider_products.db.base import BigIntKey, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "downstream_record",
        sa.Column("id", BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("public_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("provider_id", BigIntKey, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_downstream_record")),
        sa.UniqueConstraint("public_id", name=op.f("uq_downstream_record_public_id")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_downstream_record_provider_id_provider")
        ),
    )
    op.create_index(
        "ix_downstream_record_provider_kind", "downstream_record", ["provider_id", "kind", "created_at"]
    )
    op.create_table(
        "downstream_record_line",
        sa.Column("id", BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("record_id", BigIntKey, nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("product_id", BigIntKey, nullable=False),
        sa.Column("product_code", sa.String(64), nullable=False),
        sa.Column("product_type", sa.String(16), nullable=False),
        sa.Column("product_name", sa.String(300), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("posology", sa.Text(), nullable=True),
        sa.Column("duration_days", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_downstream_record_line")),
        sa.UniqueConstraint("record_id", "line_no", name="uq_downstream_record_line_record_id"),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["downstream_record.id"],
            name=op.f("fk_downstream_record_line_record_id_downstream_record"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["catalogue_product.id"],
            name=op.f("fk_downstream_record_line_product_id_catalogue_product"),
        ),
    )
    op.create_index(op.f("ix_downstream_record_line_product_id"), "downstream_record_line", ["product_id"])


def downgrade() -> None:
    op.drop_table("downstream_record_line")
    op.drop_table("downstream_record")
