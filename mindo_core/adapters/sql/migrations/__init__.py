"""Alembic's environment and revisions for Mindo's schema (run through ``migrate``)."""
