"""Each organisation's unknown-outcome policy (``unknown_outcome_policies``): what settles a bulk
recipient whose outcome stayed unknown once later messages' webhooks have come (fail or
resend, and the window). No row: the default (fail, 10 minutes).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unknown_outcome_policies",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_unknown_outcome_policies_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_unknown_outcome_policies")),
    )


def downgrade() -> None:
    op.drop_table("unknown_outcome_policies")
