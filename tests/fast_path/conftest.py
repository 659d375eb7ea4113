"""The fast path is skipped while anyone listens to events, and the whole suite listens
(tests/conftest.py watches telemetry for secrets): these tests turn it on for themselves
by showing it no subscriber; the other emission sites still report to the watch."""

from __future__ import annotations

import types

import pytest

import tests.conformance.conftest  # noqa: F401  (Django set up, for the corpus' adapters)
from focus_middleware import fast_path


@pytest.fixture(autouse=True)
def fast_path_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_path, "events", types.SimpleNamespace(active=False))
