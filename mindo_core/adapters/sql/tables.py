"""The tables, as SQLModel classes. They never leave ``adapters.sql``: ``mapping`` turns them
into the core's values.

Constraint and index names follow ``NAMING_CONVENTION`` so that they are the same on SQLite and
PostgreSQL and Alembic can address them. Timestamps use ``UTCDateTime`` (aware in, aware out).
A change here needs a new revision under ``migrations/versions`` (see ``migrate``); a contract
test fails while the two disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from mindo_core.adapters.sql.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class Table(SQLModel, registry=registry(metadata=metadata)):
    """Base of Mindo's tables: its own metadata, so nothing else registered with SQLModel
    (another library, a test) ends up in Mindo's migrations."""


def _timestamp(*, nullable: bool) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable))


def _json() -> Any:
    return Field(sa_column=sa.Column(sa.JSON(), nullable=False))


def _fk(target: str, *, index: bool = True) -> Any:
    return Field(foreign_key=target, index=index, nullable=False)


class OrganisationRow(Table, table=True):
    __tablename__ = "organisations"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(200), unique=True, nullable=False)


class ApiKeyRow(Table, table=True):
    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = _fk("organisations.id")
    name: str = Field(sa_type=sa.String(200), nullable=False)
    display_prefix: str = Field(sa_type=sa.String(32), nullable=False)
    key_hash: str = Field(sa_type=sa.String(64), unique=True, index=True, nullable=False)
    # Space-separated, sorted: a key has at most a handful of scopes and none contains a space.
    scopes: str = Field(sa_type=sa.String(200), nullable=False)
    created_at: datetime = _timestamp(nullable=False)
    expires_at: datetime | None = _timestamp(nullable=True)
    revoked_at: datetime | None = _timestamp(nullable=True)


class BusinessAccountRow(Table, table=True):
    __tablename__ = "business_accounts"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = _fk("organisations.id")
    waba_id: str = Field(sa_type=sa.String(64), unique=True, nullable=False)
    name: str = Field(sa_type=sa.String(200), nullable=False)
    # Fernet ciphertext (``adapters.crypto``); the plain token is never stored.
    encrypted_access_token: bytes = Field(sa_type=sa.LargeBinary(), nullable=False)


class PhoneNumberRow(Table, table=True):
    __tablename__ = "phone_numbers"

    id: int | None = Field(default=None, primary_key=True)
    business_account_id: int = _fk("business_accounts.id")
    phone_number_id: str = Field(sa_type=sa.String(64), unique=True, nullable=False)
    display_phone_number: str = Field(sa_type=sa.String(32), nullable=False)
    verified_name: str = Field(sa_type=sa.String(200), nullable=False)
    quality_rating: str = Field(sa_type=sa.String(32), nullable=False)
    messaging_limit_tier: str = Field(sa_type=sa.String(32), nullable=False)
    throughput_level: str = Field(sa_type=sa.String(32), nullable=False)
    is_primary: bool = Field(nullable=False)


class TemplateRow(Table, table=True):
    __tablename__ = "templates"
    # The unique constraint doubles as the index for lookups by account, name and language.
    __table_args__ = (sa.UniqueConstraint("business_account_id", "name", "language"),)

    id: int | None = Field(default=None, primary_key=True)
    business_account_id: int = _fk("business_accounts.id", index=False)
    meta_template_id: str = Field(sa_type=sa.String(64), nullable=False)
    name: str = Field(sa_type=sa.String(512), nullable=False)
    language: str = Field(sa_type=sa.String(16), nullable=False)
    status: str = Field(sa_type=sa.String(32), nullable=False)
    category: str = Field(sa_type=sa.String(32), nullable=False)
    parameter_format: str = Field(sa_type=sa.String(16), nullable=False)
    components: list[dict[str, Any]] = _json()
    variable_defaults: dict[str, str] = _json()


class MessageRow(Table, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        # Listings and reports by organisation over time; quota counts per number over 24 h.
        sa.Index(None, "organisation_id", "created_at"),
        sa.Index(None, "phone_number_row_id", "created_at"),
    )

    # BIGINT on PostgreSQL (bulk sends add up); SQLite's INTEGER is already 64-bit and only
    # INTEGER PRIMARY KEY is an alias of the rowid, so it stays INTEGER there.
    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    organisation_id: int = _fk("organisations.id", index=False)
    phone_number_row_id: int = _fk("phone_numbers.id", index=False)
    template_id: int = _fk("templates.id")
    recipient_phone: str = Field(sa_type=sa.String(32), nullable=False)
    variables_used: dict[str, str] = _json()
    wamid: str | None = Field(default=None, sa_type=sa.String(128), unique=True, nullable=True)
    status: str = Field(sa_type=sa.String(16), nullable=False)
    created_at: datetime = _timestamp(nullable=False)
    sent_at: datetime | None = _timestamp(nullable=True)
    delivered_at: datetime | None = _timestamp(nullable=True)
    read_at: datetime | None = _timestamp(nullable=True)
    failed_at: datetime | None = _timestamp(nullable=True)
    error_code: int | None = Field(default=None, nullable=True)
    error_message: str | None = Field(default=None, sa_type=sa.Text(), nullable=True)
