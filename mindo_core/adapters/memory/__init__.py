"""The stores over plain dicts, for fast tests of services (no database, no I/O)."""

from mindo_core.adapters.memory.stores import memory_stores
from mindo_core.adapters.memory.tables import Tables

__all__ = ["Tables", "memory_stores"]
