"""Django signals for what a project may want to hear about."""

from __future__ import annotations

from django.dispatch import Signal

settlement_undelivered = Signal()
"""A paid job's settlement Focus could not take yet (the service was down, or the user's
session expired while a stream ran). It is kept and retried with the user's next valid
credential, and drained at exit; this signal is the hook that reports it (the log line
with the job id is written either way). Sent with ``settlement``: an
:class:`~focus_middleware.jobs.UndeliveredSettlement` (its ``credential`` is not for logs).
"""

__all__ = ["settlement_undelivered"]
