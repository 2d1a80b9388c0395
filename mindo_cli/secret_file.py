"""The development secret key: generated once by `mindo dev`, kept in a file only its owner can
read, and found there again by the operator commands that run against `mindo dev`'s database."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from mindo_core.adapters.crypto import generate_secret
from mindo_core.settings import Settings

DATA_DIR = Path(".mindo")
KEY_FILE = DATA_DIR / "secret.key"


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


def with_dev_secret_key(settings: Settings) -> Settings:
    """``settings`` with `mindo dev`'s key when MINDO_SECRET_KEY is unset and the database is
    `mindo dev`'s own (the default one): that key is the one its tokens were stored with."""
    if settings.secret_key or settings.database_url != Settings().database_url:
        return settings
    if not KEY_FILE.is_file():
        return settings
    return replace(settings, secret_key=KEY_FILE.read_text().strip())


def key_file_hint() -> str | None:
    """What to run when `mindo dev`'s key file is here; None when it is not."""
    if not KEY_FILE.is_file():
        return None
    return (
        f"`mindo dev` keeps its key in {KEY_FILE}; for its database: "
        f'export MINDO_SECRET_KEY="$(cat {KEY_FILE})"'
    )
