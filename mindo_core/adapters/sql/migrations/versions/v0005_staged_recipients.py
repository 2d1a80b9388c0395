"""Staged recipients: a bulk's recipients in chunks until they are made ``messages`` rows.

They are made rows when they are claimed, stopped or listed (``adapters.sql.staged_recipients``).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staged_recipients",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("bulk_id", sa.String(length=36), nullable=False),
        sa.Column("first_position", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bulk_id"], ["bulks.id"], name=op.f("fk_staged_recipients_bulk_id_bulks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staged_recipients")),
        sa.UniqueConstraint(
            "bulk_id", "first_position", name=op.f("uq_staged_recipients_bulk_id_first_position")
        ),
    )


def downgrade() -> None:
    # Nothing accepted is dropped: staged recipients become messages rows first, as the
    # revisions before this one stored them.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_MATERIALISE_ALL)
    else:
        op.execute(_SQLITE_MATERIALISE_ALL)
    op.drop_table("staged_recipients")


_COLUMNS = (
    "organisation_id, phone_number_row_id, template_id, bulk_id, created_at, status, attempts, "
    "position, recipient_phone, variables_used, not_before"
)

# The same statements as adapters.sql.staged_recipients, for every chunk at once. A migration
# keeps its own copy: it must do what it did when it was written, whatever the code becomes.
_SQLITE_MATERIALISE_ALL = f"""
    INSERT INTO messages ({_COLUMNS})
    SELECT b.organisation_id, b.phone_number_row_id, b.template_id, b.id, b.created_at,
           'pending', 0, s.first_position + r.key,
           json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'),
           json_extract(r.value, '$[2]')
    FROM staged_recipients AS s
    JOIN bulks AS b ON b.id = s.bulk_id
    JOIN json_each(s.payload) AS r
    ORDER BY s.bulk_id, s.first_position, r.key
"""

_POSTGRES_MATERIALISE_ALL = f"""
    INSERT INTO messages ({_COLUMNS})
    SELECT b.organisation_id, b.phone_number_row_id, b.template_id, b.id, b.created_at,
           'pending', 0, s.first_position + r.n - 1,
           r.value ->> 0, (r.value ->> 1)::json, (r.value ->> 2)::timestamptz
    FROM staged_recipients AS s
    JOIN bulks AS b ON b.id = s.bulk_id
    CROSS JOIN LATERAL json_array_elements(s.payload::json) WITH ORDINALITY AS r(value, n)
    ORDER BY s.bulk_id, s.first_position, r.n
"""
