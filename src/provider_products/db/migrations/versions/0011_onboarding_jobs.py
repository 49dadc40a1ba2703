"""The portal's onboarding jobs: an uploaded inventory, its rows, proposals, decisions and outcomes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provider_products.db.base import BigIntKey, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "onboarding_job",
        sa.Column("id", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(40), nullable=False),
        sa.Column("provider_id", BigIntKey, nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("catalogue_revision", BigIntKey, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("lease_token", sa.String(40), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.Column("registration_started_at", UTCDateTime(), nullable=True),
        sa.Column("registration_finished_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('review', 'registering', 'registered')", name=op.f("ck_onboarding_job_status")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_onboarding_job_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_job")),
        sa.UniqueConstraint("public_id", name=op.f("uq_onboarding_job_public_id")),
    )
    op.create_index("ix_onboarding_job_provider", "onboarding_job", ["provider_id", "created_at"])
    op.create_table(
        "onboarding_row",
        sa.Column("job_id", BigIntKey, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("inventory_code", sa.String(200), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("proposed_code", sa.String(64), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("chosen_code", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(24), nullable=True),
        sa.Column("error_code", sa.String(16), nullable=True),
        sa.Column("registered_code", sa.String(64), nullable=True),
        sa.Column("registered_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "decision IN ('accepted', 'chosen', 'not_in_catalogue', 'undecided')",
            name=op.f("ck_onboarding_row_decision"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["onboarding_job.id"],
            name=op.f("fk_onboarding_row_job_id_onboarding_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "position", name=op.f("pk_onboarding_row")),
    )
    op.create_index("ix_onboarding_row_pending", "onboarding_row", ["job_id", "outcome", "position"])


def downgrade() -> None:
    op.drop_index("ix_onboarding_row_pending", table_name="onboarding_row")
    op.drop_table("onboarding_row")
    op.drop_index("ix_onboarding_job_provider", table_name="onboarding_job")
    op.drop_table("onboarding_job")
