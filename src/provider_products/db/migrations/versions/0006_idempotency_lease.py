"""Idempotency keys held by a lease: the owner of a pending key and when its hold runs out.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provider_products.db.base import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Pending keys left by an earlier version have no lease: they count as expired, so a retry
    # takes them over instead of waiting out the replay window.
    with op.batch_alter_table("idempotency_key") as batch:
        batch.add_column(sa.Column("owner", sa.String(32), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_key") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("owner")
