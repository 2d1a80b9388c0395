"""Contact lists (the named lists an organisation imports its contacts into) and each
organisation's own opt-out rules.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        # UTCDateTime in the models: timestamptz on PostgreSQL, naive UTC text on SQLite.
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_contact_lists_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_lists")),
        sa.UniqueConstraint(
            "organisation_id", "name", name=op.f("uq_contact_lists_organisation_id_name")
        ),
    )
    op.create_table(
        "opt_out_policies",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("stop_words", sa.JSON(), nullable=False),
        sa.Column("start_words", sa.JSON(), nullable=False),
        sa.Column("suppressed_categories", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_opt_out_policies_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_opt_out_policies")),
    )


def downgrade() -> None:
    op.drop_table("opt_out_policies")
    op.drop_table("contact_lists")
