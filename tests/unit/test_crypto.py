"""The access-token cipher: what MINDO_SECRET_KEY may hold, rotation, and that neither secrets
nor tokens leak through errors or reprs."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet

from mindo_core.adapters.crypto import (
    HKDF_INFO,
    FernetTokenCipher,
    SecretKeyError,
    TokenDecryptionError,
    generate_secret,
)

TOKEN = "EAAGm0PX4ZCpsBAsecretaccesstoken"
PASSPHRASE = "correct horse battery staple and then some"


def test_a_generated_secret_is_a_fernet_key_that_round_trips_a_token() -> None:
    secret = generate_secret()
    cipher = FernetTokenCipher(secret)

    ciphertext = cipher.encrypt(TOKEN)

    assert len(base64.urlsafe_b64decode(secret)) == 32
    assert TOKEN.encode() not in ciphertext
    assert cipher.decrypt(ciphertext) == TOKEN


def test_a_fernet_key_is_used_as_it_is() -> None:
    secret = generate_secret()

    ciphertext = FernetTokenCipher(secret).encrypt(TOKEN)

    assert Fernet(secret.encode()).decrypt(ciphertext) == TOKEN.encode()


def test_generated_secrets_differ() -> None:
    assert generate_secret() != generate_secret()


def test_encrypting_twice_gives_different_ciphertexts() -> None:
    cipher = FernetTokenCipher(generate_secret())

    assert cipher.encrypt(TOKEN) != cipher.encrypt(TOKEN)


def test_a_long_passphrase_derives_the_same_key_every_time() -> None:
    ciphertext = FernetTokenCipher(PASSPHRASE).encrypt(TOKEN)

    assert FernetTokenCipher(PASSPHRASE).decrypt(ciphertext) == TOKEN


def test_the_passphrase_is_not_itself_the_key() -> None:
    ciphertext = FernetTokenCipher(PASSPHRASE).encrypt(TOKEN)
    other_passphrase = FernetTokenCipher(PASSPHRASE + "!")

    with pytest.raises(TokenDecryptionError):
        other_passphrase.decrypt(ciphertext)


def test_the_derivation_info_string_is_part_of_the_stored_format() -> None:
    # Changing it would make every stored token unreadable: this pins it.
    assert HKDF_INFO == b"mindo/v1/access-token-cipher"


@pytest.mark.parametrize(
    "secret", ["", "   ", "short", "x" * 31, f"{PASSPHRASE},", f",{PASSPHRASE}"]
)
def test_short_or_empty_secrets_are_refused(secret: str) -> None:
    with pytest.raises(SecretKeyError, match="MINDO_SECRET_KEY"):
        FernetTokenCipher(secret)


def test_a_comma_separates_secrets_so_a_passphrase_cannot_hold_one() -> None:
    with pytest.raises(SecretKeyError, match="too short"):
        FernetTokenCipher("a passphrase long enough, but with a comma")


def test_a_refused_secret_is_not_repeated_in_the_error() -> None:
    with pytest.raises(SecretKeyError) as raised:
        FernetTokenCipher("hunter2-is-too-short")

    assert "hunter2" not in str(raised.value)
    assert "32" in str(raised.value)


def test_the_first_secret_encrypts_and_every_secret_decrypts() -> None:
    old, new = generate_secret(), generate_secret()
    written_before = FernetTokenCipher(old).encrypt(TOKEN)
    rotating = FernetTokenCipher(f"{new}, {old}")

    written_now = rotating.encrypt(TOKEN)

    assert rotating.decrypt(written_before) == TOKEN
    assert FernetTokenCipher(new).decrypt(written_now) == TOKEN
    with pytest.raises(TokenDecryptionError):
        FernetTokenCipher(old).decrypt(written_now)


def test_passphrases_and_keys_can_be_mixed_in_a_rotation() -> None:
    written_before = FernetTokenCipher(PASSPHRASE).encrypt(TOKEN)

    assert FernetTokenCipher(f"{generate_secret()},{PASSPHRASE}").decrypt(written_before) == TOKEN


def test_a_token_from_a_dropped_secret_cannot_be_read_and_the_error_says_why() -> None:
    written = FernetTokenCipher(generate_secret()).encrypt(TOKEN)

    with pytest.raises(TokenDecryptionError, match="MINDO_SECRET_KEY") as raised:
        FernetTokenCipher(generate_secret()).decrypt(written)

    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_garbage_is_not_a_token() -> None:
    with pytest.raises(TokenDecryptionError):
        FernetTokenCipher(generate_secret()).decrypt(b"not a fernet token")


def test_a_token_that_is_not_text_is_refused_without_being_repeated() -> None:
    broken = TOKEN + "\ud800"

    with pytest.raises(ValueError, match="not valid text") as raised:
        FernetTokenCipher(generate_secret()).encrypt(broken)

    assert TOKEN not in str(raised.value)
    assert raised.value.__suppress_context__


def test_the_repr_shows_neither_secrets_nor_keys() -> None:
    secret = generate_secret()

    shown = repr(FernetTokenCipher(f"{secret},{PASSPHRASE}"))

    assert secret not in shown
    assert PASSPHRASE not in shown
    assert "2" in shown
