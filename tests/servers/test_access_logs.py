"""The return trip's session JWT never reaches a real server's access log.

Each server runs as its users run it (a subprocess, its own command line, its default
access log to stdout/stderr, captured to a file), on a free loopback port, in front of an
app configured from ``FOCUS_*`` and a real emulator on the system's clock. The request is
a real return trip: ``/studio?focus_state=<nonce>&token=<a session JWT the emulator
minted>`` with the matching state cookie, answered 303 with the app's session cookie. The
log must show the request (the nonce is there) and not the token.

- uvicorn and hypercorn read the request line for their access log from the ASGI scope,
  after the response started (uvicorn: ``uvicorn/protocols/http/*_impl.py`` logs in
  ``send`` on ``http.response.start`` via ``get_path_with_query_string(scope)``; hypercorn:
  ``hypercorn/logging.py`` ``AccessLogAtoms`` reads ``scope["query_string"]`` for its
  ``%(R)s`` atom, which the test's format asks for; the default ``%(r)s`` has no query): the
  middleware's scope rewrite is all they need, no filter installed.
- gunicorn (``glogging.Logger.access``, ``%(r)s`` is the raw request line), ``flask run``
  (Werkzeug's ``WSGIRequestHandler.log_request`` through the ``werkzeug`` logger) and
  Django's runserver (``django.core.servers.basehttp.WSGIRequestHandler.log_message``
  through ``django.server``) log the raw line: each gets the README's one-line
  ``focus_middleware.logging.install(...)``.
- waitress writes no access log; it logs the path (never the query) of a request whose app
  raised (``waitress/channel.py``: "Exception while serving %s" % request.path): checked
  with ``/boom``, and the filter installed on ``waitress`` as the README says.

A server that is not installed fails the test when CI=true, and skips it elsewhere.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from focus_middleware.testing import FocusEmulator

ROOT = Path(__file__).resolve().parents[2]
NONCE = "trip-nonce-0123456789abcdef"


def require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{module} is not installed (pip install -e '.[test]')")
        pytest.skip(f"{module} is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def emu() -> Iterator[FocusEmulator]:
    with FocusEmulator() as emulator:  # the system's clock: the servers run on it too
        emulator.create_app("video", starter_credits=0)
        yield emulator


@contextmanager
def serving(argv: list[str], port: int, emu: FocusEmulator, log: Path) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOCUS_", "DJANGO_"))}
    env.update(FOCUS_API_URL=emu.url, FOCUS_ISSUER=emu.issuer, FOCUS_APP="video", FOCUS_PUBLIC_ORIGIN=url,
               PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", *argv], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{argv[0]} exited {process.returncode}: {log.read_text(errors='replace')}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{argv[0]} did not start: {log.read_text(errors='replace')}") from None
                    time.sleep(0.05)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(log: Path, text: str) -> str:
    """The log once ``text`` is in it (servers write their line after the response)."""
    deadline = time.monotonic() + 10
    while True:
        content = log.read_text(errors="replace")
        if text in content or time.monotonic() > deadline:
            return content
        time.sleep(0.05)


def return_trip(url: str, token: str) -> httpx.Response:
    headers = {"sec-fetch-mode": "navigate", "sec-fetch-site": "cross-site", "accept": "text/html",
               "cookie": f"focus_state={NONCE}"}
    return httpx.get(f"{url}/studio?q=1&focus_state={NONCE}&token={token}", headers=headers, timeout=10)


def assert_trip_done(r: httpx.Response, url: str) -> None:
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{url}/studio?q=1"
    assert "focus_session=ey" in r.headers.get("set-cookie", "")


SERVERS = {
    "uvicorn": ["uvicorn", "tests.servers.apps:asgi_app", "--host", "127.0.0.1", "--port", "{port}"],
    "hypercorn": ["hypercorn", "tests.servers.apps:asgi_app", "--bind", "127.0.0.1:{port}", "--access-logfile", "-",
                  "--access-logformat", '%(h)s "%(R)s" %(s)s'],  # R: with the query (r has none)
    "gunicorn": ["gunicorn", "-c", "tests/servers/gunicorn_conf.py", "--access-logfile", "-", "-w", "1",
                 "-b", "127.0.0.1:{port}", "tests.servers.apps:wsgi_app"],
    "flask": ["flask", "--app", "tests.servers.flask_app", "run", "--host", "127.0.0.1", "--port", "{port}"],
    "django": ["django", "runserver", "--noreload", "--settings", "tests.servers.django_site", "127.0.0.1:{port}"],
}


@pytest.mark.parametrize("server", list(SERVERS))
def test_the_return_trip_token_is_not_in_the_access_log(server: str, emu: FocusEmulator, tmp_path: Path) -> None:
    require(server)
    port = free_port()
    argv = [a.replace("{port}", str(port)) for a in SERVERS[server]]
    log = tmp_path / f"{server}.log"
    user = emu.create_user(credits=0)
    with serving(argv, port, emu, log) as url:
        token = user.session_jwt(azp=url)
        assert_trip_done(return_trip(url, token), url)
        content = wait_for(log, NONCE)
    assert f"/studio?q=1&focus_state={NONCE}" in content, content  # the line was logged...
    assert token not in content  # ...without the token
    assert token.split(".")[2] not in content  # not even its signature


def test_waitress_logs_no_query(emu: FocusEmulator, tmp_path: Path) -> None:
    require("waitress")
    port = free_port()
    log = tmp_path / "waitress.log"
    user = emu.create_user(credits=0)
    argv = ["waitress", f"--listen=127.0.0.1:{port}", "tests.servers.waitress_app:app"]
    with serving(argv, port, emu, log) as url:
        token = user.session_jwt(azp=url)
        assert_trip_done(return_trip(url, token), url)
        r = httpx.get(f"{url}/boom?focus_state={NONCE}&token={token}", timeout=10)
        assert r.status_code == 500
        content = wait_for(log, "Exception while serving /boom")
    assert "Exception while serving /boom" in content, content
    assert token not in content and token.split(".")[2] not in content
