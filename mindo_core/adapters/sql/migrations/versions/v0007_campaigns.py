"""Recipients skipped by a stop count as cancelled, and carry the bulk's stop_reason.

Before: a bulk stopped early (a template paused, a campaign-stopping error) counted its skipped
recipients in ``failed_count`` and gave them no ``error_message``. Now they are in
``cancelled_count`` (so that ``sent + failed + pending + cancelled`` is every unique recipient
and ``failed`` is what Meta refused) and say why: the bulk's ``stop_reason``. Data only.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SKIPPED = "SELECT COUNT(*) FROM messages AS m WHERE m.bulk_id = bulks.id AND m.status = 'skipped'"


def upgrade() -> None:
    op.execute(f"""
        UPDATE bulks
        SET failed_count = failed_count - ({_SKIPPED}),
            cancelled_count = cancelled_count + ({_SKIPPED})
        WHERE EXISTS ({_SKIPPED.replace("COUNT(*)", "1")})
    """)
    op.execute("""
        UPDATE messages
        SET error_message = (SELECT b.stop_reason FROM bulks AS b WHERE b.id = messages.bulk_id)
        WHERE status = 'skipped' AND error_message IS NULL
    """)


def downgrade() -> None:
    op.execute(f"""
        UPDATE bulks
        SET failed_count = failed_count + ({_SKIPPED}),
            cancelled_count = cancelled_count - ({_SKIPPED})
        WHERE EXISTS ({_SKIPPED.replace("COUNT(*)", "1")})
    """)
    # Skipped recipients had no error before this revision.
    op.execute("UPDATE messages SET error_message = NULL WHERE status = 'skipped'")
