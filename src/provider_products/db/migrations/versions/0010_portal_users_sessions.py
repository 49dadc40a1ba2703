"""Portal users (people of a provider, argon2 password hashes) and their server-side sessions.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provider_products.db.base import BigIntKey, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_user",
        sa.Column("id", BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("provider_id", BigIntKey, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("password_changed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_user")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_portal_user_provider_id_provider")
        ),
        sa.UniqueConstraint("email", name=op.f("uq_portal_user_email")),
    )
    op.create_index("ix_portal_user_provider_id", "portal_user", ["provider_id"])
    op.create_table(
        "portal_session",
        sa.Column("id", BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", BigIntKey, nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_session")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["portal_user.id"], name=op.f("fk_portal_session_user_id_portal_user")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_session_token_hash")),
    )
    op.create_index("ix_portal_session_user_id", "portal_session", ["user_id"])


def downgrade() -> None:
    op.drop_table("portal_session")
    op.drop_table("portal_user")
