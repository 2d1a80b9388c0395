"""Message ids shaped like Meta's: ``wamid.`` + base64 of the recipient and an 18-char id."""

from __future__ import annotations

import base64
import itertools
import os

_COUNTER_BITS = 40
# An odd multiplier is a bijection modulo 2**40: ids look random yet never repeat.
_SCRAMBLE = 0x9E3779B97F


class WamidFactory:
    """Unique wamids: a random per-instance prefix and a scrambled counter.

    The bytes follow the layout seen in real wamids: ``1c 18 <len> <wa_id> 15 02 00 11 18 12
    <18 hex chars> 00``, so a 13-digit recipient gives ``wamid.HBgN...``.
    """

    def __init__(self) -> None:
        self._prefix = os.urandom(4).hex().upper()
        self._counter = itertools.count(1)

    def new(self, wa_id: str) -> str:
        serial = (next(self._counter) * _SCRAMBLE) % (1 << _COUNTER_BITS)
        message_id = f"{self._prefix}{serial:010X}".encode("ascii")
        recipient = wa_id.encode("ascii")
        raw = (
            b"\x1c\x18"
            + bytes([len(recipient)])
            + recipient
            + b"\x15\x02\x00\x11\x18\x12"
            + message_id
            + b"\x00"
        )
        return "wamid." + base64.b64encode(raw).decode("ascii")
