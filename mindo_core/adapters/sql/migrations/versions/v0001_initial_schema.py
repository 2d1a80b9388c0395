"""Initial schema: organisations, API keys, business accounts, phone numbers, templates,
messages.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool) -> sa.Column[object]:
    # UTCDateTime in the models: timestamptz on PostgreSQL, naive UTC text on SQLite.
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column[object]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _fk(column: str, target: str, table: str) -> sa.ForeignKeyConstraint:
    name = f"fk_{table}_{column}_{target.split('.')[0]}"
    return sa.ForeignKeyConstraint([column], [target], name=op.f(name))


def upgrade() -> None:
    op.create_table(
        "organisations",
        _id(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("name", name=op.f("uq_organisations_name")),
    )
    op.create_table(
        "api_keys",
        _id(),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("display_prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("expires_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
        _fk("organisation_id", "organisations.id", "api_keys"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_index(op.f("ix_api_keys_key_hash"), "api_keys", ["key_hash"], unique=True)
    op.create_index(op.f("ix_api_keys_organisation_id"), "api_keys", ["organisation_id"])

    op.create_table(
        "business_accounts",
        _id(),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("waba_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("encrypted_access_token", sa.LargeBinary(), nullable=False),
        _fk("organisation_id", "organisations.id", "business_accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_accounts")),
        sa.UniqueConstraint("waba_id", name=op.f("uq_business_accounts_waba_id")),
    )
    op.create_index(
        op.f("ix_business_accounts_organisation_id"), "business_accounts", ["organisation_id"]
    )

    op.create_table(
        "phone_numbers",
        _id(),
        sa.Column("business_account_id", sa.Integer(), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("display_phone_number", sa.String(length=32), nullable=False),
        sa.Column("verified_name", sa.String(length=200), nullable=False),
        sa.Column("quality_rating", sa.String(length=32), nullable=False),
        sa.Column("messaging_limit_tier", sa.String(length=32), nullable=False),
        sa.Column("throughput_level", sa.String(length=32), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        _fk("business_account_id", "business_accounts.id", "phone_numbers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_numbers")),
        sa.UniqueConstraint("phone_number_id", name=op.f("uq_phone_numbers_phone_number_id")),
    )
    op.create_index(
        op.f("ix_phone_numbers_business_account_id"), "phone_numbers", ["business_account_id"]
    )

    op.create_table(
        "templates",
        _id(),
        sa.Column("business_account_id", sa.Integer(), nullable=False),
        sa.Column("meta_template_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("parameter_format", sa.String(length=16), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("variable_defaults", sa.JSON(), nullable=False),
        _fk("business_account_id", "business_accounts.id", "templates"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
        sa.UniqueConstraint(
            "business_account_id",
            "name",
            "language",
            name=op.f("uq_templates_business_account_id_name_language"),
        ),
    )

    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("phone_number_row_id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("recipient_phone", sa.String(length=32), nullable=False),
        sa.Column("variables_used", sa.JSON(), nullable=False),
        sa.Column("wamid", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("sent_at", nullable=True),
        _timestamp("delivered_at", nullable=True),
        _timestamp("read_at", nullable=True),
        _timestamp("failed_at", nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        _fk("organisation_id", "organisations.id", "messages"),
        _fk("phone_number_row_id", "phone_numbers.id", "messages"),
        _fk("template_id", "templates.id", "messages"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("wamid", name=op.f("uq_messages_wamid")),
    )
    op.create_index(
        op.f("ix_messages_organisation_id_created_at"),
        "messages",
        ["organisation_id", "created_at"],
    )
    op.create_index(
        op.f("ix_messages_phone_number_row_id_created_at"),
        "messages",
        ["phone_number_row_id", "created_at"],
    )
    op.create_index(op.f("ix_messages_template_id"), "messages", ["template_id"])


def downgrade() -> None:
    # Children first; dropping a table drops its indexes.
    for table in (
        "messages",
        "templates",
        "phone_numbers",
        "business_accounts",
        "api_keys",
        "organisations",
    ):
        op.drop_table(table)
