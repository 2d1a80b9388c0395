"""The development secret key: generated once, kept in a file only its owner can read."""

from __future__ import annotations

import os
from pathlib import Path

from mindo_core.adapters.crypto import generate_secret


def ensure_secret_key(data_dir: Path) -> str:
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = generate_secret()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    return secret
