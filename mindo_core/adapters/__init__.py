"""Adapters: the ports of ``mindo_core.ports`` implemented over real things.

``sql``     the stores over SQLModel (SQLite or PostgreSQL), with Alembic migrations
``memory``  the same stores over dicts, for fast tests of services
``meta``    Meta's Graph API (or the sandbox) over HTTP
``crypto``  the access-token cipher keyed by MINDO_SECRET_KEY
"""
