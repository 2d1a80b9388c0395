"""WatchBulk's snapshots converted once for all their subscribers.

The progress bus hands every subscriber of a bulk the very same ``Bulk`` object. With hundreds
of streams on one bulk, converting it to protobuf once per stream (timestamps included) was
about a third of the server's work per update; here it is converted once per change.
"""

from __future__ import annotations

from collections import OrderedDict

from mindo_core.bulks.model import Bulk, BulkId
from mindo_core.services.bulk_queries import BulkView
from mindo_grpc import convert_bulks
from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb

# What a view adds to its bulk (template and number as shown); equal for every subscriber unless
# the template changed between two subscriptions.
_Extras = tuple[object, ...]


class SharedSnapshots:
    """The newest conversion per bulk, for the ``capacity`` bulks most recently converted.

    Not thread-safe: used from the server's event loop. Messages handed out are shared between
    streams: never mutate them."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._newest: OrderedDict[BulkId, tuple[Bulk, _Extras, pb.Bulk]] = OrderedDict()

    def convert(self, view: BulkView) -> pb.Bulk:
        bulk = view.bulk
        extras = _extras(view)
        found = self._newest.get(bulk.id)
        if found is not None and found[0] is bulk and found[1] == extras:
            return found[2]
        message = convert_bulks.bulk(view)
        self._newest[bulk.id] = (bulk, extras, message)
        self._newest.move_to_end(bulk.id)
        if len(self._newest) > self._capacity:
            self._newest.popitem(last=False)
        return message


def _extras(view: BulkView) -> _Extras:
    template, number = view.template, view.phone_number
    return (
        template.id,
        template.name,
        template.language,
        template.status,
        number.id,
        number.display_phone_number,
        number.verified_name,
    )
