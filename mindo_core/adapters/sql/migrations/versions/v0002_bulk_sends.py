"""Bulk sends: the bulks table; bulk recipients are messages with a bulk_id.

``messages.status`` of a bulk recipient holds its fine-grained state (pending, in_flight, …);
rows of single sends keep their sent/failed and read as never attempted (attempts 0).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool) -> sa.Column[object]:
    # UTCDateTime in the models: timestamptz on PostgreSQL, naive UTC text on SQLite.
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _count(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), nullable=False)


def _fk(column: str, target: str, table: str) -> sa.ForeignKeyConstraint:
    name = f"fk_{table}_{column}_{target.split('.')[0]}"
    return sa.ForeignKeyConstraint([column], [target], name=op.f(name))


def upgrade() -> None:
    op.create_table(
        "bulks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("phone_number_row_id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("pacing", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total_recipients", sa.Integer(), nullable=False),
        sa.Column("estimated_time_minutes", sa.Float(), nullable=False),
        _count("sent_count"),
        _count("delivered_count"),
        _count("read_count"),
        _count("failed_count"),
        _count("pending_count"),
        _count("cancelled_count"),
        _timestamp("created_at", nullable=False),
        _timestamp("started_at", nullable=True),
        _timestamp("completed_at", nullable=True),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _fk("organisation_id", "organisations.id", "bulks"),
        _fk("phone_number_row_id", "phone_numbers.id", "bulks"),
        _fk("template_id", "templates.id", "bulks"),
        _fk("created_by", "api_keys.id", "bulks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulks")),
    )
    op.create_index(
        op.f("ix_bulks_organisation_id_created_at"), "bulks", ["organisation_id", "created_at"]
    )
    op.create_index(op.f("ix_bulks_status"), "bulks", ["status"])

    # SQLite cannot add a foreign key to an existing table: batch mode rebuilds it there (copy
    # and rename); PostgreSQL gets plain ALTER TABLEs.
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("bulk_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("position", sa.Integer(), nullable=True))
        batch.add_column(_timestamp("not_before", nullable=True))
        batch.add_column(_timestamp("retry_at", nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(length=128), nullable=True))
        batch.add_column(_timestamp("claimed_at", nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.create_foreign_key(op.f("fk_messages_bulk_id_bulks"), "bulks", ["bulk_id"], ["id"])
        batch.create_unique_constraint(
            op.f("uq_messages_bulk_id_position"), ["bulk_id", "position"]
        )
        # A unique index over the rows with a wamid replaces the unique constraint: bulk
        # recipients are inserted without one, by the hundred thousand.
        batch.drop_constraint("uq_messages_wamid", type_="unique")
    op.create_index(
        op.f("ix_messages_bulk_id_status_position"), "messages", ["bulk_id", "status", "position"]
    )
    # The quota window is the organisation's (ix_messages_organisation_id_sent_at): the index
    # by number and time serves no query, and every bulk recipient would pay for it.
    op.drop_index(op.f("ix_messages_phone_number_row_id_created_at"), table_name="messages")
    _partial_index("ix_messages_wamid", ["wamid"], "wamid IS NOT NULL", unique=True)
    _partial_index(
        "ix_messages_organisation_id_sent_at", ["organisation_id", "sent_at"], "sent_at IS NOT NULL"
    )
    _partial_index(
        "ix_messages_organisation_id_claimed_at",
        ["organisation_id", "claimed_at"],
        "status IN ('in_flight', 'unconfirmed')",
    )


def _partial_index(name: str, columns: list[str], where: str, *, unique: bool = False) -> None:
    condition = sa.text(where)
    op.create_index(
        op.f(name),
        "messages",
        columns,
        unique=unique,
        sqlite_where=condition,
        postgresql_where=condition,
    )


def downgrade() -> None:
    op.create_index(
        op.f("ix_messages_phone_number_row_id_created_at"),
        "messages",
        ["phone_number_row_id", "created_at"],
    )
    for index in (
        "ix_messages_organisation_id_claimed_at",
        "ix_messages_organisation_id_sent_at",
        "ix_messages_wamid",
        "ix_messages_bulk_id_status_position",
    ):
        op.drop_index(op.f(index), table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.create_unique_constraint("uq_messages_wamid", ["wamid"])
        batch.drop_constraint(op.f("uq_messages_bulk_id_position"), type_="unique")
        batch.drop_constraint(op.f("fk_messages_bulk_id_bulks"), type_="foreignkey")
        for column in (
            "attempts",
            "claimed_at",
            "claimed_by",
            "retry_at",
            "not_before",
            "position",
            "bulk_id",
        ):
            batch.drop_column(column)
    op.drop_table("bulks")
