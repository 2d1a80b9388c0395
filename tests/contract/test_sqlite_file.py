"""What only a SQLite file can show: the bytes on disk, and how the connections are set up."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from mindo_core.adapters.crypto import FernetTokenCipher, generate_secret
from mindo_core.adapters.sql import upgrade_database
from mindo_core.adapters.sql.database import Database
from mindo_core.adapters.sql.engine import make_async_engine
from mindo_core.adapters.sql.stores import stores_over
from mindo_core.domain.accounts import BusinessAccountId
from mindo_core.ports.meta import PhoneNumberInfo
from mindo_core.ports.stores import Stores

PLAIN_TOKEN = "EAAGm0PX4ZCpsBAplaintexttoken1234567890"


def database_files(directory: Path) -> bytes:
    """The database with its write-ahead log, whatever has not been checkpointed yet."""
    return b"".join(path.read_bytes() for path in sorted(directory.glob("mindo.db*")))


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "data"


@pytest.fixture
def database(directory: Path) -> Database:
    url = f"sqlite:///{directory / 'mindo.db'}"
    upgrade_database(url)
    return Database(make_async_engine(url))


@pytest.fixture
def stores(database: Database) -> Stores:
    return stores_over(database)


async def test_an_access_token_stored_through_the_cipher_is_not_on_disk_in_plain_text(
    stores: Stores, directory: Path
) -> None:
    cipher = FernetTokenCipher(generate_secret())
    ciphertext = cipher.encrypt(PLAIN_TOKEN)
    acme = await stores.organisations.create_organisation("acme")
    account = await stores.accounts.upsert_business_account(
        organisation_id=acme.id, waba_id="waba-1", name="Acme", encrypted_access_token=ciphertext
    )
    stored = await stores.accounts.encrypted_token(account.id)
    await stores.close()

    on_disk = database_files(directory)
    assert ciphertext in on_disk
    assert PLAIN_TOKEN.encode() not in on_disk
    assert stored is not None
    assert cipher.decrypt(stored) == PLAIN_TOKEN


async def test_the_database_directory_is_created(stores: Stores, directory: Path) -> None:
    await stores.organisations.create_organisation("acme")
    await stores.close()

    assert (directory / "mindo.db").is_file()


async def test_connections_use_wal_foreign_keys_and_wait_when_busy(database: Database) -> None:
    async with database.engine.connect() as connection:
        journal = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
        foreign_keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        busy_timeout = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    await database.close()

    assert (journal, foreign_keys) == ("wal", 1)
    assert busy_timeout is not None
    assert busy_timeout >= 1000


async def test_a_number_for_an_account_that_does_not_exist_is_refused(stores: Stores) -> None:
    info = PhoneNumberInfo(phone_number_id="1000", display_phone_number="+1", verified_name="A")

    with pytest.raises(IntegrityError):
        await stores.accounts.upsert_phone_number(BusinessAccountId(42), info)
    await stores.close()
