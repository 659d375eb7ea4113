"""The Clerk token corpus (tests/conformance) through the ASGI, WSGI, Flask and Django adapters with
the fast path on, each case presented cold and then again warm (its answer then remembered
where the fast path may remember it): the same decision both times, as the corpus states it."""

from __future__ import annotations

import pytest

from tests.conformance.corpus import Case, mint
from tests.conformance.test_clerk_tokens import (  # noqa: F401  (the corpus' module fixtures)
    CASES,
    Harness,
    corpus_clock,
    corpus_emu,
    harness,
    portal,
    present,
)

WARMED = ("bearer", "app_cookie", "clerk_cookie")


@pytest.mark.parametrize("adapter_name", ["asgi", "wsgi", "flask", "django"])
@pytest.mark.parametrize("case", [c for c in CASES if c.credential in WARMED], ids=lambda c: c.id)
def test_cold_then_warm(case: Case, adapter_name: str, harness: Harness) -> None:
    adapter = harness.adapters[adapter_name]
    app, config = harness.app(adapter, case)
    user = harness.emu.create_user(credits=5)
    token = mint(user, case.token, harness.clock, harness.names)
    for before in case.presented_before:
        present(adapter, app, config, case, before, "accept", token, user)
    for _ in range(2):
        present(adapter, app, config, case, case.credential, case.decision, token, user)
