"""Meta's Graph API behind the ``MetaGateway`` port, and the one table of Meta's error codes."""

from mindo_core.adapters.meta.errors import (
    META_CODE_POLICIES,
    MetaCodePolicy,
    UnexpectedMetaResponse,
    error_from_response,
    policy_for,
)
from mindo_core.adapters.meta.gateway import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    HttpMetaGateway,
)

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "META_CODE_POLICIES",
    "HttpMetaGateway",
    "MetaCodePolicy",
    "UnexpectedMetaResponse",
    "error_from_response",
    "policy_for",
]
