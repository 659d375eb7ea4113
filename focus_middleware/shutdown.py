"""Nothing left reserved by a deploy on servers that run no shutdown hook.

waitress, ``flask run``, uvicorn with ``--lifespan off`` and Django under ASGI (Django
refuses the lifespan protocol) never tell an app they are stopping: SIGTERM ends the
process with the default action, and ``atexit`` never runs. So when a middleware is built
(``handle_signals``, on by default) it puts a handler on SIGTERM and SIGINT, under three
conditions: in the main thread (Python accepts signal handlers nowhere else), only where
the handler is still the default one (``SIG_DFL``, ``default_int_handler``: a server's own
handler is the server's business, and it drains through its own shutdown hook), and once
per process.

The handler does no I/O and no waiting itself: the signal may have interrupted a request
that holds the lock of the kept settlements, and on waitress the main thread is the one
that writes the answers out. It puts the previous handler back (a second signal acts as
it would have without us) and starts a helper thread, which lets the work in flight end
for up to half of ``shutdown_timeout``, settles what is left (a refund unless its whole
answer went out; nothing more of it goes out) and drains every kept settlement with a
blocking client (:func:`focus_middleware.jobs.shutdown_all`), all within
``shutdown_timeout``, then raises the signal again, so the process ends as it would have
without us (SIGINT still raises ``KeyboardInterrupt``).

uvicorn builds a Starlette app's middleware lazily, after it put its own handlers in place,
and with ``--lifespan off`` nothing of the app runs at its shutdown: it restores the
handlers it found (the defaults) and raises the signal again (``Server.capture_signals``),
which ends the process before ``atexit``. Over uvicorn's handler the middleware therefore
chains: its handler blocks the signal in the main thread and calls uvicorn's, which shuts
down gracefully; the signal uvicorn raises again stays pending until the interpreter's exit,
where the drain runs (in-flight work settled, kept settlements delivered) and the signal is
let through, ending the process as it would have: SIGTERM by its default action; SIGINT,
which uvicorn turns into a ``KeyboardInterrupt`` that it catches, is dropped (raised in an
exit hook it would only print a traceback), so Ctrl-C ends uvicorn quietly, as without us.

A supervisor that kills with SIGKILL (gunicorn's worker timeout, a container runtime past
its grace period) leaves no chance to run anything: Focus's own release of stale
reservations is the backstop there.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from types import FrameType
from typing import Any

from focus_middleware.jobs import shutdown_all

logger = logging.getLogger("focus_middleware.jobs")

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_DEFAULTS: tuple[Any, ...] = (signal.SIG_DFL, signal.default_int_handler)

_installed: dict[int, Any] = {}
_held: set[int] = set()
_timeout = 10.0
_lock = threading.Lock()


def install_signal_handlers(timeout: float = 10.0) -> list[int]:
    """Drain paid jobs on SIGTERM/SIGINT (see the module docstring). Returns the signals
    handled from now on; nothing off the main thread or over a handler that is neither the
    default nor uvicorn's. Called by every middleware whose configuration has
    ``handle_signals``."""
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
            elif _reraises_after_shutdown(current):
                signal.signal(sig, _on_server_signal)
                _installed[sig] = current
        return sorted(sig for sig in _installed if signal.getsignal(sig) in (_on_signal, _on_server_signal))


def uninstall_signal_handlers() -> None:
    """Put back the handlers found (tests; a process that wants its signals back)."""
    with _lock:
        for sig, previous in list(_installed.items()):
            if signal.getsignal(sig) in (_on_signal, _on_server_signal):
                signal.signal(sig, previous)
            del _installed[sig]


def _reraises_after_shutdown(handler: Any) -> bool:
    """uvicorn's ``Server.handle_exit``: uvicorn restores the handlers it found and raises
    the signal again once its graceful shutdown is over (``Server.capture_signals``)."""
    owner = getattr(handler, "__self__", None)
    return getattr(handler, "__name__", None) == "handle_exit" and \
        type(owner).__module__ == "uvicorn.server" and hasattr(owner, "should_exit")


def _on_signal(signum: int, frame: FrameType | None) -> None:
    previous = _installed.pop(signum, signal.SIG_DFL)  # no lock: the signal may interrupt its holder
    signal.signal(signum, previous)  # a second signal ends the process as it would have
    if _raised_by_uvicorn_after_shutdown(frame):
        # uvicorn found our handler when it started (an app whose middleware is built at import,
        # Django's ASGI handler), shut down gracefully, put it back and raised the signal again
        # on its way out: no request runs any more. Drained here, then raised for the previous
        # handler where uvicorn expects it (its run() catches the KeyboardInterrupt). A helper
        # thread would raise it later, into the interpreter's exit, as a traceback.
        _drain_in_time(signum)
        signal.raise_signal(signum)
        return
    threading.Thread(target=_drain_then_reraise, args=(signum,), name="focus-shutdown", daemon=False).start()


def _raised_by_uvicorn_after_shutdown(frame: FrameType | None) -> bool:
    """The signal comes from uvicorn's ``Server.capture_signals``, which raises the signals
    it caught once its graceful shutdown is over."""
    return frame is not None and frame.f_code.co_name == "capture_signals" and \
        frame.f_globals.get("__name__") == "uvicorn.server"


def _drain_then_reraise(signum: int) -> None:
    _drain_in_time(signum)
    os.kill(os.getpid(), signum)  # the previous handler (put back by _on_signal) acts now


def _drain_in_time(signum: int) -> None:
    """Drain from a helper thread, waiting for it up to ``shutdown_timeout``."""
    helper = threading.Thread(target=_drain, args=(_timeout / 2,), name="focus-shutdown-drain", daemon=True)
    helper.start()
    helper.join(_timeout)
    if helper.is_alive():
        logger.error("focus: draining paid jobs at signal %d did not finish within %s s", signum, _timeout)


def _on_server_signal(signum: int, frame: FrameType | None) -> None:
    previous = _installed.get(signum)
    if signum not in _held:  # the server raises it again after its shutdown: held until our exit drain
        _held.add(signum)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signum})
    if callable(previous):
        previous(signum, frame)


def _drain(wait: float = 0.0) -> None:
    try:
        left = shutdown_all(wait)
    except Exception:  # pragma: no cover - shutdown_all logs each lifecycle's failure
        logger.exception("focus: draining paid jobs at shutdown failed")
        return
    if left:
        logger.error("focus: %d settlement(s) still undelivered at shutdown; the service releases them after 24 h", left)


@atexit.register
def _drain_then_release() -> None:
    """At the interpreter's exit (registered after :mod:`focus_middleware.jobs`'s own drain,
    so it runs first): drain, then let a signal held for it end the process."""
    if not _held:
        return
    _drain()
    held = set(_held)
    _held.clear()
    # uvicorn raised SIGINT again for Python's handler to turn into the KeyboardInterrupt that
    # uvicorn.run catches: the process then ends quietly. Raised here, in an exit hook, it
    # could only be printed as a traceback at every Ctrl-C; it is dropped instead, and the
    # process ends as quietly. (SIGTERM's default action still ends it by the signal.)
    dropped = {signum for signum in held if signal.getsignal(signum) is signal.default_int_handler}
    for signum in dropped:
        signal.signal(signum, signal.SIG_IGN)  # a pending signal that is ignored is discarded
    signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
    for signum in dropped:
        signal.signal(signum, signal.default_int_handler)


__all__ = ["SIGNALS", "install_signal_handlers", "uninstall_signal_handlers"]
