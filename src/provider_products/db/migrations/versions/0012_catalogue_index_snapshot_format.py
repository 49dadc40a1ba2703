"""Shared search snapshots record their format version: one snapshot per revision and format.

A snapshot of another format (an older or newer release of the service) is never loaded: each
release builds its own, under its own claim, so two releases serving side by side never take
turns overwriting each other's snapshot. The rows stored before this revision hold format 3.

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalogue_index_snapshot") as batch:
        batch.add_column(
            sa.Column("format_version", sa.Integer(), nullable=False, server_default=sa.text("3"))
        )
        batch.drop_constraint("pk_catalogue_index_snapshot", type_="primary")
        batch.create_primary_key("pk_catalogue_index_snapshot", ["revision", "format_version"])


def downgrade() -> None:
    # One snapshot per revision again: keep the newest format's of each.
    op.execute(
        "DELETE FROM catalogue_index_chunk WHERE token IN (SELECT s.token FROM catalogue_index_snapshot s "
        "WHERE s.format_version < (SELECT MAX(o.format_version) FROM catalogue_index_snapshot o "
        "WHERE o.revision = s.revision))"
    )
    op.execute(
        "DELETE FROM catalogue_index_snapshot WHERE format_version < (SELECT MAX(o.format_version) "
        "FROM catalogue_index_snapshot o WHERE o.revision = catalogue_index_snapshot.revision)"
    )
    with op.batch_alter_table("catalogue_index_snapshot") as batch:
        batch.drop_constraint("pk_catalogue_index_snapshot", type_="primary")
        batch.create_primary_key("pk_catalogue_index_snapshot", ["revision"])
        batch.drop_column("format_version")
