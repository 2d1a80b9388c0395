"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and
running them again (every start of the service does) changes nothing."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from mindo_core.adapters.sql import current_revision, head_revision, open_stores, upgrade_database
from mindo_core.adapters.sql.engine import make_sync_engine
from mindo_core.adapters.sql.migrate import alembic_config
from mindo_core.adapters.sql.tables import metadata
from mindo_core.bulks.model import BulkCounters, BulkId
from mindo_core.ports.bulks import NewBulk, NewBulkRecipient, in_chunks
from mindo_core.ports.meta import PhoneNumberInfo, TemplateInfo
from tests.contract.tenants import T0, new_bulk, tenant


def schema_differences(url: str) -> list[Any]:
    """What Alembic's autogenerate would still have to do to reach the models."""
    engine = make_sync_engine(url)
    try:
        with engine.connect() as connection:
            options = {"compare_type": True, "compare_server_default": True}
            context = MigrationContext.configure(connection, opts=options)
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def schema_snapshot(url: str) -> dict[str, Any]:
    engine = make_sync_engine(url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            return {
                table: (
                    [
                        (c["name"], str(c["type"]), c["nullable"])
                        for c in inspector.get_columns(table)
                    ],
                    sorted(i["name"] or "" for i in inspector.get_indexes(table)),
                    sorted(u["name"] or "" for u in inspector.get_unique_constraints(table)),
                )
                for table in sorted(inspector.get_table_names())
            }
    finally:
        engine.dispose()


def test_a_new_database_is_migrated_to_the_newest_revision(empty_url: str) -> None:
    assert current_revision(empty_url) is None

    upgrade_database(empty_url)

    assert current_revision(empty_url) == head_revision()
    assert head_revision() is not None


def test_the_migrated_schema_is_exactly_what_the_models_describe(migrated_url: str) -> None:
    assert schema_differences(migrated_url) == []
    assert set(schema_snapshot(migrated_url)) == {*metadata.tables, "alembic_version"}


async def test_upgrading_an_up_to_date_database_changes_nothing(migrated_url: str) -> None:
    stores = await open_stores(migrated_url)
    acme = await stores.organisations.create_organisation("acme")
    await stores.close()
    before = schema_snapshot(migrated_url)

    upgrade_database(migrated_url)

    assert schema_snapshot(migrated_url) == before
    assert current_revision(migrated_url) == head_revision()
    reopened = await open_stores(migrated_url)
    assert await reopened.organisations.find_organisation_by_name("acme") == acme
    await reopened.close()


async def test_data_written_is_there_after_reopening(migrated_url: str) -> None:
    stores = await open_stores(migrated_url)
    acme = await stores.organisations.create_organisation("acme")
    account = await stores.accounts.upsert_business_account(
        organisation_id=acme.id, waba_id="waba-1", name="Acme", encrypted_access_token=b"\x00ct"
    )
    number = await stores.accounts.upsert_phone_number(
        account.id,
        PhoneNumberInfo(phone_number_id="1000", display_phone_number="+34 600", verified_name="A"),
    )
    await stores.close()

    reopened = await open_stores(migrated_url)
    found = await reopened.accounts.find_sender(acme.id, "1000")
    await reopened.close()

    assert found == (number, account, b"\x00ct")


@pytest.mark.postgres
@pytest.mark.slow
def test_processes_starting_together_on_postgresql_migrate_once(empty_postgres_url: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(3, mp_context=spawn) as pool:
        outcomes = list(pool.map(upgrade_database, [empty_postgres_url] * 3, timeout=60))

    assert outcomes == [None] * 3
    assert current_revision(empty_postgres_url) == head_revision()
    assert schema_differences(empty_postgres_url) == []


def migrate_to(url: str, revision: str) -> None:
    command.upgrade(alembic_config(url), revision)


async def test_a_database_of_the_first_revision_is_upgraded_in_place(empty_url: str) -> None:
    migrate_to(empty_url, "0001")
    # The organisation as revision 0001 wrote it, before business profiles existed.
    old_engine = make_sync_engine(empty_url)
    with old_engine.begin() as connection:
        connection.execute(text("INSERT INTO organisations (name) VALUES ('acme')"))
        acme_id = connection.execute(text("SELECT id FROM organisations")).scalar_one()
    old_engine.dispose()
    stores = await open_stores(empty_url)
    account = await stores.accounts.upsert_business_account(
        organisation_id=acme_id, waba_id="waba-1", name="Acme", encrypted_access_token=b"ct"
    )
    number = await stores.accounts.upsert_phone_number(
        account.id,
        PhoneNumberInfo(phone_number_id="1000", display_phone_number="+34 600", verified_name="A"),
    )
    template = await stores.templates.upsert_template(
        account.id,
        TemplateInfo(
            meta_template_id="t-1",
            name="greeting",
            language="es",
            status="APPROVED",
            category="UTILITY",
            parameter_format="NAMED",
            components=[],
        ),
    )
    await stores.close()
    # A message as revision 0001 wrote it, before bulk sends existed.
    engine = make_sync_engine(empty_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO messages (organisation_id, phone_number_row_id, template_id,"
                " recipient_phone, variables_used, wamid, status, created_at, sent_at)"
                " VALUES (:o, :n, :t, '+34611222333', '{}', 'wamid.OLD', 'sent',"
                " '2025-03-01 12:00:00', '2025-03-01 12:00:00')"
            ),
            {"o": acme_id, "n": number.id, "t": template.id},
        )
    engine.dispose()

    upgrade_database(empty_url)

    assert current_revision(empty_url) == head_revision()
    assert schema_differences(empty_url) == []
    upgraded = await open_stores(empty_url)
    acme = await upgraded.organisations.get_organisation(acme_id)
    assert acme is not None
    assert acme.profile.timezone == "UTC"  # the profile revision filled the old row
    old = await upgraded.messages.find_message_by_wamid(acme.id, "wamid.OLD")
    assert old is not None
    assert (old.status, old.recipient_phone) == ("sent", "+34611222333")
    new = NewBulk(
        id=BulkId("a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c"),
        task_id="task-1",
        organisation_id=acme.id,
        phone_number_row_id=number.id,
        template_id=template.id,
        pacing="normal",
        total_recipients=1,
        estimated_time_minutes=0.1,
        created_at=old.created_at,
    )
    recipient = NewBulkRecipient(position=0, e164="+34611222333", variables_used={})
    bulk = await upgraded.bulks.create_bulk(new, in_chunks([recipient]))
    await upgraded.close()
    assert bulk.counters == BulkCounters(total=1, pending=1)


def test_the_bulk_revision_can_be_undone_and_done_again(migrated_url: str) -> None:
    command.downgrade(alembic_config(migrated_url), "0001")
    assert current_revision(migrated_url) == "0001"

    upgrade_database(migrated_url)

    assert schema_differences(migrated_url) == []


async def test_undoing_the_staging_revision_keeps_every_accepted_recipient(
    migrated_url: str,
) -> None:
    stores = await open_stores(migrated_url)
    acme = await tenant(stores)
    waits_until = T0 + timedelta(hours=3)
    new = new_bulk(acme, total_recipients=1_500)
    await stores.bulks.create_bulk(
        new,
        in_chunks(
            NewBulkRecipient(
                position=i,
                e164=f"+3461100{i:04d}",
                variables_used={"nombre": f"Cliente {i}"},
                not_before=waits_until if i >= 1_000 else None,
            )
            for i in range(1_500)
        ),
    )
    await stores.close()

    command.downgrade(alembic_config(migrated_url), "0004")

    engine = make_sync_engine(migrated_url)
    with engine.connect() as connection:
        assert "staged_recipients" not in inspect(connection).get_table_names()
        rows = connection.execute(
            text(
                "SELECT position, recipient_phone, status, not_before IS NULL FROM messages"
                " WHERE bulk_id = :bulk ORDER BY id"
            ),
            {"bulk": new.id},
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        (i, f"+3461100{i:04d}", "pending", i < 1_000) for i in range(1_500)
    ]
    upgrade_database(migrated_url)
    assert schema_differences(migrated_url) == []


async def test_the_campaigns_revision_moves_skipped_recipients_to_cancelled_and_back(
    migrated_url: str,
) -> None:
    stores = await open_stores(migrated_url)
    acme = await tenant(stores)
    new = new_bulk(acme, total_recipients=3)
    people = (
        NewBulkRecipient(position=i, e164=f"+3461100{i:04d}", variables_used={}) for i in range(3)
    )
    bulk = await stores.bulks.create_bulk(new, in_chunks(people))
    await stores.bulks.stop_bulk(bulk.id, now=T0, reason="Template paused", cancelled=False)
    await stores.close()

    def stored() -> tuple[tuple[int, int], list[str | None]]:
        engine = make_sync_engine(migrated_url)
        with engine.connect() as connection:
            counts = connection.execute(
                text("SELECT failed_count, cancelled_count FROM bulks WHERE id = :bulk"),
                {"bulk": bulk.id},
            ).one()
            reasons = connection.execute(
                text("SELECT error_message FROM messages WHERE bulk_id = :bulk"),
                {"bulk": bulk.id},
            ).scalars()
            found = (tuple(counts), list(reasons))
        engine.dispose()
        return found

    assert stored() == ((0, 3), ["Template paused"] * 3)
    command.downgrade(alembic_config(migrated_url), "0005")
    assert stored() == ((3, 0), [None] * 3)
    upgrade_database(migrated_url)
    assert stored() == ((0, 3), ["Template paused"] * 3)
