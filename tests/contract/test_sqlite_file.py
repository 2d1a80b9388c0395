"""What only a SQLite file can show: the bytes on disk, and how the connections are set up."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from mindo_core.adapters.crypto import FernetTokenCipher, generate_secret
from mindo_core.adapters.sql import SqlStore, open_store, upgrade_database
from mindo_core.domain.accounts import BusinessAccountId
from mindo_core.ports.meta import PhoneNumberInfo

PLAIN_TOKEN = "EAAGm0PX4ZCpsBAplaintexttoken1234567890"


def database_files(directory: Path) -> bytes:
    """The database with its write-ahead log, whatever has not been checkpointed yet."""
    return b"".join(path.read_bytes() for path in sorted(directory.glob("mindo.db*")))


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "data"


@pytest.fixture
async def store(directory: Path) -> SqlStore:
    url = f"sqlite:///{directory / 'mindo.db'}"
    upgrade_database(url)
    return await open_store(url)


async def test_an_access_token_stored_through_the_cipher_is_not_on_disk_in_plain_text(
    store: SqlStore, directory: Path
) -> None:
    cipher = FernetTokenCipher(generate_secret())
    ciphertext = cipher.encrypt(PLAIN_TOKEN)
    acme = await store.create_organisation("acme")
    account = await store.upsert_business_account(
        organisation_id=acme.id, waba_id="waba-1", name="Acme", encrypted_access_token=ciphertext
    )
    stored = await store.encrypted_token(account.id)
    await store.close()

    on_disk = database_files(directory)
    assert ciphertext in on_disk
    assert PLAIN_TOKEN.encode() not in on_disk
    assert stored is not None
    assert cipher.decrypt(stored) == PLAIN_TOKEN


async def test_the_database_directory_is_created(store: SqlStore, directory: Path) -> None:
    await store.create_organisation("acme")
    await store.close()

    assert (directory / "mindo.db").is_file()


async def test_connections_use_wal_foreign_keys_and_wait_when_busy(store: SqlStore) -> None:
    async with store.engine.connect() as connection:
        journal = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
        foreign_keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        busy_timeout = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    await store.close()

    assert (journal, foreign_keys) == ("wal", 1)
    assert busy_timeout is not None
    assert busy_timeout >= 1000


async def test_a_number_for_an_account_that_does_not_exist_is_refused(store: SqlStore) -> None:
    info = PhoneNumberInfo(phone_number_id="1000", display_phone_number="+1", verified_name="A")

    with pytest.raises(IntegrityError):
        await store.upsert_phone_number(BusinessAccountId(42), info)
    await store.close()
