"""Meta access tokens are stored encrypted (``adapters.crypto``: Fernet keyed by
MINDO_SECRET_KEY)."""

from __future__ import annotations

from typing import Protocol


class TokenCipher(Protocol):
    def encrypt(self, plaintext: str) -> bytes: ...

    def decrypt(self, ciphertext: bytes) -> str: ...
