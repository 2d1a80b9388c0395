"""Suite-wide settings. On CI, Hypothesis runs derandomized so a run's outcome is repeatable;
locally it explores new examples each time."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
