"""The stores over SQL: SQLModel tables, an asyncio ``SqlStore`` and Alembic migrations.

Start-up order: ``upgrade_database(url)`` (sync), then ``await open_store(url)``; ``close()`` at
shutdown. ``url`` is what the user typed (``sqlite:///mindo.db``, ``postgresql://…``).
"""

from mindo_core.adapters.sql.migrate import current_revision, head_revision, upgrade_database
from mindo_core.adapters.sql.store import SqlStore, open_store
from mindo_core.adapters.sql.urls import database_url, sync_database_url

__all__ = [
    "SqlStore",
    "current_revision",
    "database_url",
    "head_revision",
    "open_store",
    "sync_database_url",
    "upgrade_database",
]
