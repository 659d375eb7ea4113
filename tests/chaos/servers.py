"""The servers of the chaos suite, each started as its users start it, and what each can tell.

Every server runs one of the apps of ``tests/chaos/apps`` on a free loopback port, as a
subprocess of its own command line, configured from ``FOCUS_*`` in its environment like a
deployed app. The graceful timeouts are shortened (2 s) so a deploy fits a test: uvicorn
``--timeout-graceful-shutdown``, hypercorn ``--graceful-timeout``, gunicorn
``--graceful-timeout``, Granian ``--workers-kill-timeout``. waitress, ``flask run`` and
Django's runserver install no SIGTERM handler of their own: the default action ends them.

Each server's ``cannot_tell`` is its row of the per-server table the README mirrors: the
situations in which nothing running in the app can learn what happened, so a leaver may be
charged or a job left ``started`` for Focus to release. Each row is proven by its own test in
``test_limits.py``; everywhere else every leaver must be refunded and nothing left started.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field

import pytest

GRACE = 2  # seconds: each server's graceful-shutdown setting, where it has one

LEFT_BEFORE_ANSWER = "left-before-answer"
"""The client gave up (a read timeout) while the handler still worked on a short answer.
Every server here can tell on loopback: the ASGI ones see ``http.disconnect``; waitress
reads ahead (``channel_request_lookahead``); the synchronous WSGI servers write the status
line and headers, then the body, and the peer's reset arrives between the two writes, so
the last write fails and the body iterable is never exhausted. (Over a network the reset
comes a round trip later: that last case is then a race the server usually loses.)"""

OUTLIVED_GRACE = "in-flight-long"
"""Paid work still running when a deploy's grace ends."""


@dataclass(frozen=True)
class Server:
    name: str
    module: str  # what ``python -m`` runs; also what must be installed
    argv: tuple[str, ...]  # ``{port}`` is replaced
    app: str  # fastapi | flask | django
    inflight: int  # how many requests it works on at once (its workers/threads)
    cannot_tell: frozenset[str] = field(default_factory=frozenset)
    env: tuple[tuple[str, str], ...] = ()

    def command(self, port: int) -> list[str]:
        return [self.module, *(a.replace("{port}", str(port)) for a in self.argv)]


def _uvicorn(target: str, *extra: str) -> tuple[str, ...]:
    return (target, "--host", "127.0.0.1", "--port", "{port}", "--timeout-graceful-shutdown", str(GRACE),
            "--no-access-log", *extra)


DJANGO = (("DJANGO_SETTINGS_MODULE", "tests.chaos.apps.django_site"),)
GUNICORN_CANNOT_TELL = frozenset({OUTLIVED_GRACE})
"""gunicorn's arbiter SIGKILLs the workers still busy when ``--graceful-timeout`` ends
(``Arbiter.stop``: SIGTERM, wait ``graceful_timeout``, then ``kill_workers(SIGKILL)``), and
gunicorn owns the worker's SIGTERM handler: nothing in the worker runs after that, so the
job of the request it was serving stays ``started`` until Focus releases it (24 h)."""
GRANIAN_CANNOT_TELL = frozenset({OUTLIVED_GRACE})
"""Granian's main process SIGKILLs a worker still serving when ``--workers-kill-timeout``
ends (granian/server/common.py ``_stop_workers``: ``terminate()``, ``join(timeout)``, then
"Killing worker-N after it refused to gracefully stop" and ``kill()``). The worker owns
SIGTERM (``loop.add_signal_handler`` in granian/_signals.py ``set_loop_signals``) and runs
the lifespan shutdown only once its requests are over, so nothing of the app runs between
the signal and the kill: the job stays ``started`` for Focus to release. Without
``--workers-kill-timeout`` Granian waits for the work and it is settled."""

SERVERS: dict[str, Server] = {s.name: s for s in [
    Server("uvicorn", "uvicorn", _uvicorn("tests.chaos.apps.fastapi_app:app"), "fastapi", 16),
    Server("uvicorn-lifespan-off", "uvicorn", _uvicorn("tests.chaos.apps.fastapi_app:app", "--lifespan", "off"),
           "fastapi", 16),
    Server("uvicorn-wrapped", "uvicorn", _uvicorn("tests.chaos.apps.fastapi_app:wrapped"), "fastapi", 16),
    Server("hypercorn", "hypercorn", ("tests.chaos.apps.fastapi_app:app", "--bind", "127.0.0.1:{port}",
                                      "--graceful-timeout", str(GRACE)), "fastapi", 16),
    # Granian sends a FileResponse with http.response.pathsend (Starlette uses it whenever
    # the server lists the extension: starlette/responses.py FileResponse.__call__).
    Server("granian", "granian", ("--interface", "asgi", "--host", "127.0.0.1", "--port", "{port}",
                                  "--workers-kill-timeout", str(GRACE), "--no-log",
                                  "tests.chaos.apps.fastapi_app:app"), "fastapi", 16, GRANIAN_CANNOT_TELL),
    Server("gunicorn-sync", "gunicorn", ("-w", "1", "-b", "127.0.0.1:{port}", "--graceful-timeout", str(GRACE),
                                         "tests.chaos.apps.flask_app:app"), "flask", 1, GUNICORN_CANNOT_TELL),
    Server("gunicorn-gthread", "gunicorn", ("-w", "1", "-k", "gthread", "--threads", "4", "-b", "127.0.0.1:{port}",
                                            "--graceful-timeout", str(GRACE), "tests.chaos.apps.django_wsgi:application"),
           "django", 4, GUNICORN_CANNOT_TELL, DJANGO),
    # channel_request_lookahead > 0: waitress then reads ahead and offers
    # environ["waitress.client_disconnected"] (waitress docs, "Arguments to waitress.serve").
    Server("waitress-flask", "waitress", ("--listen=127.0.0.1:{port}", "--channel-request-lookahead=1",
                                          "tests.chaos.apps.flask_app:app"), "flask", 4),
    Server("waitress-django", "waitress", ("--listen=127.0.0.1:{port}", "--channel-request-lookahead=1",
                                           "tests.chaos.apps.django_wsgi:application"), "django", 4, env=DJANGO),
    Server("flask-run", "flask", ("--app", "tests.chaos.apps.flask_app", "run", "--host", "127.0.0.1",
                                  "--port", "{port}"), "flask", 16),
    Server("django-runserver", "django", ("runserver", "--noreload", "--settings", "tests.chaos.apps.django_site",
                                          "127.0.0.1:{port}"), "django", 16),
    Server("django-uvicorn", "uvicorn", _uvicorn("tests.chaos.apps.django_asgi:application"), "django", 16,
           env=DJANGO),
]}


def require(server: Server) -> None:
    """A server missing from the machine fails the suite in CI (install it), skips elsewhere."""
    if importlib.util.find_spec(server.module) is None:
        message = f"{server.module} is not installed (pip install -e '.[test]')"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
