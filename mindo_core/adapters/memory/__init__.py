"""The stores over plain dicts, for fast tests of services (no database, no I/O)."""

from mindo_core.adapters.memory.store import InMemoryStore

__all__ = ["InMemoryStore"]
