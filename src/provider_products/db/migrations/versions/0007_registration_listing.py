"""Registrations carry their code key and type, with partial listing indexes and per-type counters.

The counters are kept by triggers in the transaction of every write to ``provider_product`` (and
of a catalogue entry's type change), so no application path can forget them or let them drift.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provider_products.db.base import BigIntKey

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ACTIVE = sa.text("removed_at IS NULL")
_SQLITE_TRIGGERS = [
    """CREATE TRIGGER provider_product_count_ai AFTER INSERT ON provider_product
    WHEN new.removed_at IS NULL BEGIN
        INSERT INTO provider_product_count (provider_id, product_type, active_count)
            VALUES (new.provider_id, new.product_type, 1) ON CONFLICT (provider_id, product_type)
            DO UPDATE SET active_count = provider_product_count.active_count + 1;
    END""",
    """CREATE TRIGGER provider_product_count_au AFTER UPDATE OF removed_at, product_type
    ON provider_product BEGIN
        UPDATE provider_product_count SET active_count = active_count - 1
        WHERE old.removed_at IS NULL
          AND provider_id = old.provider_id AND product_type = old.product_type;
        INSERT INTO provider_product_count (provider_id, product_type, active_count)
            SELECT new.provider_id, new.product_type, 1 WHERE new.removed_at IS NULL
            ON CONFLICT (provider_id, product_type)
            DO UPDATE SET active_count = provider_product_count.active_count + 1;
    END""",
    """CREATE TRIGGER provider_product_count_ad AFTER DELETE ON provider_product
    WHEN old.removed_at IS NULL BEGIN
        UPDATE provider_product_count SET active_count = active_count - 1
        WHERE provider_id = old.provider_id AND product_type = old.product_type;
    END""",
    """CREATE TRIGGER provider_product_retype AFTER UPDATE OF product_type ON catalogue_product
    WHEN new.product_type <> old.product_type BEGIN
        UPDATE provider_product SET product_type = new.product_type WHERE product_id = new.id;
    END""",
]

_POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION provider_product_count_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.removed_at IS NULL THEN
            UPDATE provider_product_count SET active_count = active_count - 1
            WHERE provider_id = OLD.provider_id AND product_type = OLD.product_type;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.removed_at IS NULL THEN
            INSERT INTO provider_product_count (provider_id, product_type, active_count)
            VALUES (NEW.provider_id, NEW.product_type, 1) ON CONFLICT (provider_id, product_type)
            DO UPDATE SET active_count = provider_product_count.active_count + 1;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER provider_product_count_sync
    AFTER INSERT OR DELETE OR UPDATE OF removed_at, product_type ON provider_product
    FOR EACH ROW EXECUTE FUNCTION provider_product_count_sync()""",
    """CREATE FUNCTION provider_product_retype() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE provider_product SET product_type = NEW.product_type WHERE product_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER provider_product_retype AFTER UPDATE OF product_type ON catalogue_product
    FOR EACH ROW WHEN (NEW.product_type IS DISTINCT FROM OLD.product_type)
    EXECUTE FUNCTION provider_product_retype()""",
]


def upgrade() -> None:
    op.add_column("provider_product", sa.Column("code_key", sa.String(64), nullable=True))
    op.add_column("provider_product", sa.Column("product_type", sa.String(16), nullable=True))
    op.execute(
        "UPDATE provider_product SET "
        "code_key = (SELECT c.code_key FROM catalogue_product c WHERE c.id = provider_product.product_id), "
        "product_type = (SELECT c.product_type FROM catalogue_product c "
        "WHERE c.id = provider_product.product_id)"
    )
    with op.batch_alter_table("provider_product") as batch:
        batch.alter_column("code_key", existing_type=sa.String(64), nullable=False)
        batch.alter_column("product_type", existing_type=sa.String(16), nullable=False)
    op.create_index(
        "ix_provider_product_listing",
        "provider_product",
        ["provider_id", "code_key", "id"],
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )
    op.create_index(
        "ix_provider_product_type_listing",
        "provider_product",
        ["provider_id", "product_type", "code_key", "id"],
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )
    op.create_table(
        "provider_product_count",
        sa.Column("provider_id", BigIntKey, nullable=False),
        sa.Column("product_type", sa.String(16), nullable=False),
        sa.Column("active_count", BigIntKey, nullable=False),
        sa.PrimaryKeyConstraint("provider_id", "product_type", name=op.f("pk_provider_product_count")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_provider_product_count_provider_id_provider")
        ),
    )
    op.execute(
        "INSERT INTO provider_product_count (provider_id, product_type, active_count) "
        "SELECT provider_id, product_type, COUNT(*) FROM provider_product "
        "WHERE removed_at IS NULL GROUP BY provider_id, product_type"
    )
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_TRIGGERS if dialect == "sqlite" else _POSTGRESQL_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in (
            "provider_product_count_ai",
            "provider_product_count_au",
            "provider_product_count_ad",
            "provider_product_retype",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    else:
        op.execute("DROP TRIGGER IF EXISTS provider_product_retype ON catalogue_product")
        op.execute("DROP TRIGGER IF EXISTS provider_product_count_sync ON provider_product")
        op.execute("DROP FUNCTION IF EXISTS provider_product_retype()")
        op.execute("DROP FUNCTION IF EXISTS provider_product_count_sync()")
    op.drop_table("provider_product_count")
    op.drop_index("ix_provider_product_type_listing", table_name="provider_product")
    op.drop_index("ix_provider_product_listing", table_name="provider_product")
    with op.batch_alter_table("provider_product") as batch:
        batch.drop_column("product_type")
        batch.drop_column("code_key")
