"""A submitted recipient that is not a ``RecipientInput``: what an edge hands over as it is (the
gRPC servicer passes its protobuf messages), with read-only mappings of its own kind."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class EdgeRecipient:
    def __init__(
        self, phone: str, variables: Mapping[str, str], button_variables: Mapping[str, str]
    ) -> None:
        self._phone = phone
        self._variables = MappingProxyType(dict(variables))
        self._button_variables = MappingProxyType(dict(button_variables))

    @property
    def phone(self) -> str:
        return self._phone

    @property
    def variables(self) -> Mapping[str, str]:
        return self._variables

    @property
    def button_variables(self) -> Mapping[str, str]:
        return self._button_variables
