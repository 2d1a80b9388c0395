"""Meta's ``X-Hub-Signature-256``: ``sha256=<hex>``, the HMAC-SHA256 of the raw body keyed by
the app secret. Compared in constant time.

The service checks the same signature again (it is the authority); the bridge checks first so
that a forged POST costs no RPC and records nothing. Both read the hex the same way (surrounding
spaces ignored, any case), so they never disagree about a well-formed header.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Hub-Signature-256"
PREFIX = "sha256="


def well_formed(header: str | None) -> bool:
    """Worth reading the body for: present and in Meta's ``sha256=`` form."""
    return header is not None and header.startswith(PREFIX)


def signs(header: str, body: bytes, app_secret: str) -> bool:
    """Whether ``header`` is the signature of ``body``; never with an empty secret."""
    if not app_secret or not well_formed(header):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    given = header[len(PREFIX) :].strip().lower()
    # compare_digest on str refuses non-ASCII: bytes take any header the client sent.
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))
