"""The fast path runs with the whole suite's event subscriber on (tests/conftest.py watches
telemetry for secrets): it emits what the plan emits, so nothing here switches it on."""

from __future__ import annotations

import tests.conformance.conftest  # noqa: F401  (Django set up, for the corpus' adapters)
