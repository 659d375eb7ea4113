"""The logging subscriber (issue 27): one line per event at its level, the event's fields in
the record (``focus_*`` attributes, as ``logging``'s ``extra`` puts them,
https://docs.python.org/3/library/logging.html#logging.Logger.debug), no credential."""

from __future__ import annotations

import logging

import pytest

from focus_middleware.resolver import Resolver
from focus_middleware.telemetry import logging as focus_logging
from focus_middleware.testing import FocusEmulator
from tests.helpers import facts


def test_one_structured_line_per_event(caplog: pytest.LogCaptureFixture, resolver: Resolver, emu: FocusEmulator) -> None:
    pat = emu.create_user(credits=3).pat()
    stop = focus_logging.install()
    try:
        with caplog.at_level(logging.DEBUG, logger="focus_middleware.events"):
            resolver.resolve(facts(bearer=pat))
            resolver.resolve(facts(bearer=pat[:-3] + "xyz"))
    finally:
        stop()
    records = [r for r in caplog.records if r.name == "focus_middleware.events"]
    kinds = [getattr(r, "focus_event") for r in records]
    assert kinds.count("Decision") == 2 and "UpstreamCall" in kinds and "CacheLookup" in kinds
    refused = [r for r in records if getattr(r, "focus_event") == "Decision" and r.levelno == logging.WARNING]
    assert [getattr(r, "focus_outcome") for r in refused] == ["rejected"]
    wallet = [r for r in records if getattr(r, "focus_endpoint", None) == "GET /api/wallet"]
    assert wallet and all(r.levelno == logging.INFO and getattr(r, "focus_status") in (200, 401) for r in wallet)
    for record in records:
        assert pat not in record.getMessage() and pat[:-3] not in repr(record.__dict__)
    # Unsubscribed: nothing more is logged.
    caplog.clear()
    resolver.resolve(facts(bearer=pat))
    assert not [r for r in caplog.records if r.name == "focus_middleware.events"]
