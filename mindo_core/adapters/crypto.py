"""The access-token cipher: Fernet (AES-128-CBC + HMAC-SHA256) keyed by MINDO_SECRET_KEY.

MINDO_SECRET_KEY holds one secret or a comma-separated list of them. Each secret is either
  * a Fernet key (44 characters of URL-safe base64, as ``generate_secret()`` prints), used as is;
  * any passphrase of at least 32 characters, turned into a Fernet key with HKDF-SHA256
    (no salt, info ``HKDF_INFO``). The info string is part of the format: changing it would make
    every stored token unreadable.
Rotation: the first secret encrypts, every secret decrypts. Put the new secret first, keep the
old one after it until every token has been written again, then drop it.

Neither secrets nor tokens ever appear in an error message or a repr.
"""

from __future__ import annotations

import base64
import re

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HKDF_INFO = b"mindo/v1/access-token-cipher"
MIN_PASSPHRASE_LENGTH = 32
_FERNET_KEY_BYTES = 32
_FERNET_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}=")


class SecretKeyError(ValueError):
    """MINDO_SECRET_KEY cannot be used. The message never repeats the secret."""


class TokenDecryptionError(Exception):
    """A stored token cannot be decrypted with any of the configured secrets."""

    def __init__(self) -> None:
        super().__init__(
            "a stored access token cannot be decrypted with MINDO_SECRET_KEY: the secret that "
            "encrypted it is missing (changed without keeping the old one after the new one?)"
        )


class FernetTokenCipher:
    """``TokenCipher`` over Fernet; see the module docstring for the secret's format."""

    def __init__(self, secret: str) -> None:
        keys = [fernet_key(part) for part in _split(secret)]
        self._fernet = MultiFernet([Fernet(key) for key in keys])
        self._key_count = len(keys)

    def encrypt(self, plaintext: str) -> bytes:
        try:
            data = plaintext.encode("utf-8")
        except UnicodeEncodeError:
            # The exception would carry the token itself; say what is wrong, not what it was.
            raise ValueError("the access token is not valid text") from None
        return self._fernet.encrypt(data)

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            raise TokenDecryptionError() from None

    def __repr__(self) -> str:
        return f"FernetTokenCipher(<{self._key_count} secret(s)>)"


def generate_secret() -> str:
    """A new random Fernet key, fit for MINDO_SECRET_KEY."""
    return Fernet.generate_key().decode("ascii")


def fernet_key(secret: str) -> bytes:
    """The Fernet key for one secret: itself if it is one, else derived from the passphrase."""
    if _is_fernet_key(secret):
        return secret.encode("ascii")
    if len(secret) < MIN_PASSPHRASE_LENGTH:
        raise SecretKeyError(
            f"MINDO_SECRET_KEY is too short ({len(secret)} characters): use a Fernet key "
            f"(generate one: mindo secret-key) or a passphrase of at least "
            f"{MIN_PASSPHRASE_LENGTH} characters"
        )
    return base64.urlsafe_b64encode(_derive(secret.encode("utf-8")))


def _split(secret: str) -> list[str]:
    parts = [part.strip() for part in secret.split(",")]
    if not secret.strip() or any(not part for part in parts):
        raise SecretKeyError(
            "MINDO_SECRET_KEY is empty or has an empty entry: give one secret, or several "
            "separated by commas (the first encrypts, all decrypt)"
        )
    return parts


def _is_fernet_key(secret: str) -> bool:
    # 32 bytes in URL-safe base64 are exactly 43 letters and one "=".
    return _FERNET_KEY_PATTERN.fullmatch(secret) is not None


def _derive(passphrase: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=_FERNET_KEY_BYTES, salt=None, info=HKDF_INFO)
    return hkdf.derive(passphrase)
