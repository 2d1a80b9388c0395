"""The stores over SQL: SQLModel tables, one asyncio repository per port over a shared
``Database``, and Alembic migrations.

Start-up order: ``upgrade_database(url)`` (sync), then ``await open_stores(url)``; ``close()`` at
shutdown. ``url`` is what the user typed (``sqlite:///mindo.db``, ``postgresql://…``).
"""

from mindo_core.adapters.sql.migrate import current_revision, head_revision, upgrade_database
from mindo_core.adapters.sql.stores import open_stores
from mindo_core.adapters.sql.urls import database_url, sync_database_url

__all__ = [
    "current_revision",
    "database_url",
    "head_revision",
    "open_stores",
    "sync_database_url",
    "upgrade_database",
]
