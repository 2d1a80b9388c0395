"""Contacts (with their opt-out), the inbound messages that create them, and the last applied
account events.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("full_name", sa.String(length=256), nullable=True),
        sa.Column("profile_name", sa.String(length=256), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("contact_list_id", sa.Integer(), nullable=True),
        sa.Column("contact_list_name", sa.String(length=200), nullable=True),
        # UTCDateTime in the models: timestamptz on PostgreSQL, naive UTC text on SQLite.
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opt_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_contacts_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint(
            "organisation_id", "phone", name=op.f("uq_contacts_organisation_id_phone")
        ),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("wamid", sa.String(length=128), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("phone_number_row_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("payload", sa.String(length=256), nullable=True),
        sa.Column("context_wamid", sa.String(length=128), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_inbound_messages_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_inbound_messages_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["phone_number_row_id"],
            ["phone_numbers.id"],
            name=op.f("fk_inbound_messages_phone_number_row_id_phone_numbers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint("wamid", name=op.f("uq_inbound_messages_wamid")),
    )
    op.create_index(
        op.f("ix_inbound_messages_contact_id_sent_at"),
        "inbound_messages",
        ["contact_id", "sent_at"],
    )
    op.create_table(
        "account_event_marks",
        sa.Column("object_key", sa.String(length=300), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("object_key", name=op.f("pk_account_event_marks")),
    )


def downgrade() -> None:
    op.drop_table("account_event_marks")
    op.drop_index(op.f("ix_inbound_messages_contact_id_sent_at"), table_name="inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_table("contacts")
