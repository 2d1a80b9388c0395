"""Reading typed values out of parsed JSON, with errors that name the offending key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ConfigError(ValueError):
    """The sandbox configuration (file, CLI flags or admin request) is not valid."""


def as_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected an object")
    return value


def as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list")
    return value


def req_str(data: Mapping[str, Any], key: str, where: str) -> str:
    if key not in data:
        raise ConfigError(f"{where}: '{key}' is required")
    return opt_str(data, key, "", where)


def opt_str(data: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: '{key}' must be a non-empty string")
    return value


def opt_int(data: Mapping[str, Any], key: str, default: int, where: str, minimum: int = 0) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where}: '{key}' must be an integer >= {minimum}")
    return value


def opt_float(
    data: Mapping[str, Any], key: str, default: float, where: str, *, maximum: float | None = None
) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{where}: '{key}' must be a number >= 0")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{where}: '{key}' must be at most {maximum}")
    return float(value)


def check_known_keys(data: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}")


def ms_range(value: Any, where: str) -> tuple[float, float]:
    """A duration in ms, or ``[min, max]`` for one drawn uniformly between the two."""
    bounds = value if isinstance(value, list) else [value, value]
    if len(bounds) != 2 or not all(_is_non_negative_number(b) for b in bounds):
        raise ConfigError(f"{where}: expected a number of ms or [min, max]")
    low, high = float(bounds[0]), float(bounds[1])
    if low > high:
        raise ConfigError(f"{where}: min is above max")
    return (low, high)


def _is_non_negative_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
