"""The dependency rule covers every core module: a new module cannot slip past the contract."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
WIRING = {"__init__", "bootstrap"}


def test_every_core_module_is_bound_by_the_no_adapters_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (domain,) = [c for c in contracts if "mindo_core.adapters" in c.get("forbidden_modules", [])]
    modules = {p.stem for p in (ROOT / "mindo_core").glob("*.py")} - WIRING
    bound = {name.removeprefix("mindo_core.") for name in domain["source_modules"]}
    assert modules - bound == set()
    assert "services" in bound
