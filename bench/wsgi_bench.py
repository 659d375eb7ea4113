"""A full request through a Werkzeug app and a Flask app, bare and with Focus.

Each WSGI app is called directly with a prepared environ and a no-op ``start_response``,
its body read and closed as a server would, so the figures hold the app and the
middleware only (no server, no socket). Rows are ratios against the bare app; the hot path
is a request whose JWT claims and wallet are cached (no network). The account is resolved
lazily: "never looks" is a request with credentials to a view that does not ask for it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from flask import Flask
from werkzeug.wrappers import Request, Response

from bench.env import BenchEnv, bench_env
from bench.floors import WSGIRequiredSurface, flask_account
from bench.sketch import jwks_verifier
from bench.timing import Batch, as_parsed, per_call, sync_batch, table
from flask_focus import Focus, current_account
from focus_middleware.resolver import Resolver
from focus_middleware.wsgi import FocusWSGIMiddleware, require_credits

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


def _hello(request: Request) -> Response:
    return Response("hello")


def _whoami(request: Request) -> Response:
    account = request.environ.get("focus.account")
    return Response(account.clerk_id if account else "anonymous")


@require_credits(1)
def _guarded(request: Request) -> Response:
    return Response("hello")


_VIEWS: dict[str, Callable[[Request], Any]] = {"/": _hello, "/whoami": _whoami, "/guarded": _guarded}


def _werkzeug_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    request = Request(environ)
    response = _VIEWS[request.path](request)
    return response(environ, start_response)


def _flask_app(focus: Focus | None) -> Flask:
    app = Flask("bench")

    @app.get("/")
    def hello() -> str:
        return "hello"

    @app.get("/whoami")
    def whoami() -> str:
        return current_account.clerk_id if current_account else "anonymous"

    def guarded() -> str:
        return "hello"

    app.add_url_rule("/guarded", "guarded", focus.require_credits(1)(guarded) if focus else guarded)
    if focus is not None:
        focus.init_app(app)
    return app


def _flask_floor_app() -> Flask:
    """The goal's Flask view on the floor (``bench/floors.py``): the account through a proxy."""
    app = Flask("bench-floor")

    @app.get("/whoami")
    def whoami() -> str:
        return flask_account.clerk_id if flask_account else "anonymous"

    return app


def _environ(path: str, headers: dict[str, str]) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(), "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "HTTP_HOST": "127.0.0.1:8000", "HTTP_ACCEPT": "application/json",
    }
    environ.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()})
    return environ


CREDENTIAL_KEYS = ("HTTP_AUTHORIZATION", "HTTP_COOKIE")


def _request(app: WSGIApp, path: str, headers: dict[str, str] | None = None) -> Callable[[], None]:
    """One request to ``app`` per call; the credential headers new ``str`` objects each
    time, as a server makes them (see :func:`~bench.timing.as_parsed`), charged to the case
    that carries them."""
    base = _environ(path, headers or {})
    credentials = [key for key in CREDENTIAL_KEYS if key in base]
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        statuses.append(status)
        return lambda data: None

    def call() -> None:
        environ = dict(base)
        for key in credentials:
            environ[key] = as_parsed(environ[key])
        body = app(environ, start_response)
        try:
            for _ in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        if not statuses.pop().startswith("200"):
            raise RuntimeError(f"{path} did not answer 200")

    return call


def _rows(cases: dict[str, Callable[[], None]], labels: list[tuple[str, str]]) -> list[tuple[str, float, float]]:
    for call in cases.values():  # warm: JWKS, claims and wallet cached
        call()
    baseline = per_call(cases["bare"])
    return [(label, baseline if key == "bare" else per_call(cases[key]), baseline) for label, key in labels]


def goal_batches(env: BenchEnv, stack: ExitStack) -> dict[str, Batch]:
    """Issue 22's Werkzeug and Flask cases (a bearer JWT, the view reads the account) and
    the same views without Focus (where the account reads as absent), warmed."""
    resolver = Resolver(env.config)
    stack.callback(resolver.close)
    auth = {"authorization": f"Bearer {env.token}"}
    assert env.config.jwks_url is not None and env.config.issuer is not None
    verify = jwks_verifier(env.config.jwks_url, env.config.issuer)
    calls = {
        "werkzeug.bare": _request(_werkzeug_app, "/whoami", auth),
        "werkzeug.read": _request(FocusWSGIMiddleware(_werkzeug_app, resolver=resolver), "/whoami", auth),
        "werkzeug.floor": _request(WSGIRequiredSurface(_werkzeug_app, verify), "/whoami", auth),
        "flask.bare": _request(_flask_app(None).wsgi_app, "/whoami", auth),
        "flask.current_account": _request(_flask_app(Focus(resolver=resolver)).wsgi_app, "/whoami", auth),
        "flask.floor": _request(WSGIRequiredSurface(_flask_floor_app().wsgi_app, verify), "/whoami", auth),
    }
    for call in calls.values():  # warm: JWKS, claims and wallet cached
        call()
    return {name: sync_batch(call) for name, call in calls.items()}


def run() -> str:
    with bench_env() as env:
        token = env.token
        auth = {"authorization": f"Bearer {token}"}
        cookie = {"cookie": f"theme=dark; focus_session={token}"}
        resolver = Resolver(env.config)
        focused = FocusWSGIMiddleware(_werkzeug_app, resolver=resolver)
        wsgi = _rows({
            "bare": _request(_werkzeug_app, "/"),
            "anonymous": _request(focused, "/"),
            "untouched": _request(focused, "/", auth),
            "bearer": _request(focused, "/whoami", auth),
            "cookie": _request(focused, "/whoami", cookie),
            "guarded": _request(focused, "/guarded", auth),
        }, [("bare Werkzeug app", "bare"), ("FocusWSGIMiddleware, no credentials", "anonymous"),
            ("credentials, the app never looks (lazy)", "untouched"),
            ("hot path (bearer JWT), account read", "bearer"), ("hot path (app cookie), account read", "cookie"),
            ("hot path + @require_credits(1)", "guarded")])

        bare_flask = _flask_app(None)
        with_focus = _flask_app(Focus(resolver=resolver))
        flask = _rows({
            "bare": _request(bare_flask.wsgi_app, "/"),
            "anonymous": _request(with_focus.wsgi_app, "/"),
            "untouched": _request(with_focus.wsgi_app, "/", auth),
            "bearer": _request(with_focus.wsgi_app, "/whoami", auth),
            "cookie": _request(with_focus.wsgi_app, "/whoami", cookie),
            "guarded": _request(with_focus.wsgi_app, "/guarded", auth),
        }, [("bare Flask app", "bare"), ("Flask-Focus, no credentials", "anonymous"),
            ("credentials, the view never looks (lazy)", "untouched"),
            ("hot path (bearer JWT), current_account", "bearer"),
            ("hot path (app cookie), current_account", "cookie"),
            ("hot path + @focus.require_credits(1)", "guarded")])
        resolver.close()
    return (table("full request, in-process WSGI: Werkzeug (bench/wsgi_bench.py)", wsgi) + "\n\n"
            + table("full request, in-process WSGI: Flask (bench/wsgi_bench.py)", flask))
