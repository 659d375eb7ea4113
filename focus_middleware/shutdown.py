"""Nothing left reserved by a deploy on servers that run no shutdown hook.

waitress, ``flask run``, uvicorn with ``--lifespan off`` and Django under ASGI (Django
refuses the lifespan protocol) never tell an app they are stopping: SIGTERM ends the
process with the default action, and ``atexit`` never runs. So when a middleware is built
(``handle_signals``, on by default) it puts a handler on SIGTERM and SIGINT, under three
conditions: in the main thread (Python accepts signal handlers nowhere else), only where
the handler is still the default one (``SIG_DFL``, ``default_int_handler``: a server's own
handler is the server's business, and it drains through its own shutdown hook), and once
per process.

The handler does no I/O itself: the signal may have interrupted a request that holds the
lock of the kept settlements, and a handler that waited for it would wait forever. It
starts a helper thread that fails every job in flight with a refund and drains every kept
settlement with a blocking client (:func:`focus_middleware.jobs.shutdown_all`), joins it
for at most ``shutdown_timeout`` seconds, then puts the previous handler back and raises
the signal again, so the process ends as it would have without us (SIGINT still raises
``KeyboardInterrupt``).

A supervisor that kills with SIGKILL (gunicorn's worker timeout, a container runtime past
its grace period) leaves no chance to run anything: Focus's own release of stale
reservations is the backstop there.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from focus_middleware.jobs import shutdown_all

logger = logging.getLogger("focus_middleware.jobs")

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_DEFAULTS: tuple[Any, ...] = (signal.SIG_DFL, signal.default_int_handler)

_installed: dict[int, Any] = {}
_timeout = 10.0
_lock = threading.Lock()


def install_signal_handlers(timeout: float = 10.0) -> list[int]:
    """Drain paid jobs on SIGTERM/SIGINT (see the module docstring). Returns the signals
    handled from now on; nothing off the main thread or over a handler not the default.
    Called by every middleware whose configuration has ``handle_signals``; call it
    yourself at import time where the middleware is built late (Starlette builds its
    middleware stack on the first request or lifespan event, after uvicorn put its own
    handlers in place)."""
    global _timeout
    if threading.current_thread() is not threading.main_thread():
        return []
    with _lock:
        _timeout = max(_timeout, timeout) if _installed else timeout
        for sig in SIGNALS:
            if sig in _installed:
                continue
            try:
                current = signal.getsignal(sig)
            except (ValueError, OSError):  # pragma: no cover - platforms without the signal
                continue
            if any(current is default for default in _DEFAULTS):
                signal.signal(sig, _on_signal)
                _installed[sig] = current
        return sorted(sig for sig in _installed if signal.getsignal(sig) is _on_signal)


def uninstall_signal_handlers() -> None:
    """Put back the handlers found (tests; a process that wants its signals back)."""
    with _lock:
        for sig, previous in list(_installed.items()):
            if signal.getsignal(sig) is _on_signal:
                signal.signal(sig, previous)
            del _installed[sig]


def _on_signal(signum: int, frame: FrameType | None) -> None:
    helper = threading.Thread(target=_drain, name="focus-shutdown-drain", daemon=True)
    helper.start()
    helper.join(_timeout)
    if helper.is_alive():
        logger.error("focus: draining paid jobs at signal %d did not finish within %s s", signum, _timeout)
    with _lock:
        previous = _installed.pop(signum, signal.SIG_DFL)
    signal.signal(signum, previous)
    signal.raise_signal(signum)


def _drain() -> None:
    try:
        left = shutdown_all()
    except Exception:  # pragma: no cover - shutdown_all logs each lifecycle's failure
        logger.exception("focus: draining paid jobs at a signal failed")
        return
    if left:
        logger.error("focus: %d settlement(s) still undelivered at shutdown; the service releases them after 24 h", left)


__all__ = ["SIGNALS", "install_signal_handlers", "uninstall_signal_handlers"]
