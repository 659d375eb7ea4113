"""The per-process Focus state a Django project shares: configuration, resolver, paid jobs.

Built from ``settings.FOCUS`` on first use and rebuilt when a test overrides the setting
(Django's ``setting_changed`` signal), so ``override_settings(FOCUS=...)`` and
pytest-django's ``settings`` fixture work as they do for any other setting.

One blocking :class:`~focus_middleware.resolver.Resolver` serves sync and async views
alike. The async path drives the same plans in the event loop and hands only the I/O (a
cache miss: a JWKS fetch, a remote check, a wallet) to a worker thread, as Django's own
``request.auser()`` hands the database to one. An :class:`AsyncResolver` per event loop
was the alternative, and a poor fit for Django: under WSGI every async view runs in an
event loop of its own (``async_to_sync``), which would mean a new HTTP client, a new JWKS
fetch and empty single-flight tables per request. One resolver per process keeps one
connection pool, one key set and one single flight for every thread and loop; the hot path
(cached token and wallet) never leaves the event loop.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from focus_middleware.config import FocusConfig
from focus_middleware.jobs import PaidJobs, UndeliveredSettlement
from focus_middleware.resolver import Resolver, ResolverCore

from django_focus.conf import SETTING, config_from_settings
from django_focus.signals import settlement_undelivered

logger = logging.getLogger("django_focus")


class FocusRuntime:
    """What every request of this process works with."""

    def __init__(self, config: FocusConfig) -> None:
        self.config = config
        self.resolver = Resolver(config)
        self.core: ResolverCore = self.resolver.core
        self.jobs = PaidJobs(config, self.resolver.client, wallets=self.resolver, on_undelivered=_announce)

    def close(self) -> None:
        self.resolver.close()

    def __repr__(self) -> str:
        return f"FocusRuntime({self.config!r})"


def _announce(item: UndeliveredSettlement) -> None:
    settlement_undelivered.send(sender=FocusRuntime, settlement=item)


_runtime: FocusRuntime | None = None
_lock = threading.Lock()


def get_runtime() -> FocusRuntime:
    """This process's runtime, built from the settings on first use."""
    runtime = _runtime
    if runtime is None:
        runtime = _build()
    return runtime


def _build() -> FocusRuntime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = FocusRuntime(config_from_settings())
        return _runtime


def reset_runtime() -> None:
    """Forget the runtime (the next request builds one from the settings as they are now).
    Settlements the old one still keeps stay with it, drained at interpreter exit."""
    global _runtime
    with _lock:
        old, _runtime = _runtime, None
    if old is not None:
        if len(old.jobs.pending):
            logger.warning("focus: settings changed with %d settlement(s) kept; drained at exit", len(old.jobs.pending))
        old.close()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING, "CACHES"):
        reset_runtime()


__all__ = ["FocusRuntime", "get_runtime", "reset_runtime"]
