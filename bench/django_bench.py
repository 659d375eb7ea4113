"""A full request through Django's WSGI handler, bare and with FocusMiddleware.

The handler is called directly with a prepared WSGI environ (and its body iterated and
closed, as a server does), many times in one process, so the figures hold Django and the
middleware only: no server, no HTTP client. Rows are ratios against the bare project (the
same view, no middleware at all); the hot path is a request whose JWT claims and wallet
are cached (no network), with a view that reads ``request.focus_account`` (the account is
lazy: a view that never reads it costs less still).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from bench.env import ORIGIN, BenchEnv, bench_env
from bench.floors import DjangoRequiredSurface
from bench.sketch import jwks_verifier
from bench.wsgi_bench import CREDENTIAL_KEYS
from bench.timing import Batch, as_parsed, per_call, sync_batch, table


def hello(request: Any) -> Any:
    from django.http import HttpResponse

    account = getattr(request, "focus_account", None)
    return HttpResponse(b"hello" if account else b"hello, stranger")


def untouched(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse(b"hello")


def _guarded() -> Callable[[Any], Any]:
    from django_focus.decorators import require_credits

    return require_credits(1)(hello)


def _setup(env: BenchEnv) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False, SECRET_KEY="bench", ALLOWED_HOSTS=["127.0.0.1"], ROOT_URLCONF=__name__,
            INSTALLED_APPS=["django_focus"], MIDDLEWARE=[], USE_TZ=True, DATABASES={},
        )
        django.setup()
    settings.FOCUS = {"api_url": env.config.api_url, "issuer": env.config.issuer, "app": "bench",
                      "public_origin": ORIGIN}


def _handler(middleware: list[str]) -> Any:
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    settings.MIDDLEWARE = middleware
    return WSGIHandler()


def _request(handler: Any, path: str, headers: dict[str, str]) -> Callable[[], None]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(),
               "HTTP_HOST": "127.0.0.1:8000", "HTTP_ACCEPT": "application/json", **headers}
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        statuses.append(status)

    credentials = [(key, value) for key, value in headers.items() if key in CREDENTIAL_KEYS]

    def call() -> None:
        # The credential headers new str objects, as a server makes them (wsgi_bench._request).
        request_environ = {**environ, "wsgi.input": io.BytesIO()}
        for key, value in credentials:
            request_environ[key] = as_parsed(value)
        result = handler(request_environ, start_response)
        try:
            for _ in result:
                pass
        finally:
            result.close()
        if statuses.pop() != "200 OK":
            raise RuntimeError(f"{path} did not answer 200")

    return call


def goal_batches(env: BenchEnv, stack: ExitStack) -> dict[str, Batch]:
    """Issue 22's Django case (a bearer JWT, the view reads ``request.focus_account``) and
    the bare project (the same view, no middleware), warmed."""
    from django_focus.runtime import reset_runtime

    _setup(env)
    stack.callback(reset_runtime)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {env.token}"}
    assert env.config.jwks_url is not None and env.config.issuer is not None
    DjangoRequiredSurface.using(jwks_verifier(env.config.jwks_url, env.config.issuer))
    calls = {
        "django.bare": _request(_handler([]), "/", auth),
        "django.read": _request(_handler(["django_focus.middleware.FocusMiddleware"]), "/", auth),
        "django.floor": _request(_handler(["bench.floors.DjangoRequiredSurface"]), "/", auth),
    }
    for call in calls.values():  # warm: JWKS, claims and wallet cached
        call()
    return {name: sync_batch(call) for name, call in calls.items()}


def run() -> str:
    with bench_env() as env:
        _setup(env)
        token = env.token
        bare = _handler([])
        focus = _handler(["django_focus.middleware.FocusMiddleware"])
        cases = {
            "bare": _request(bare, "/", {}),
            "anonymous": _request(focus, "/", {}),
            "lazy": _request(focus, "/untouched", {"HTTP_AUTHORIZATION": f"Bearer {token}"}),
            "bearer": _request(focus, "/", {"HTTP_AUTHORIZATION": f"Bearer {token}"}),
            "cookie": _request(focus, "/", {"HTTP_COOKIE": f"theme=dark; focus_session={token}"}),
            "guarded": _request(focus, "/guarded", {"HTTP_AUTHORIZATION": f"Bearer {token}"}),
        }
        for call in cases.values():  # warm: JWKS, claims and wallet cached
            call()
        baseline = per_call(cases["bare"])
        rows = [
            ("bare Django view (WSGI handler)", baseline, baseline),
            ("FocusMiddleware, no credentials", per_call(cases["anonymous"]), baseline),
            ("credentials, the view never looks (lazy)", per_call(cases["lazy"]), baseline),
            ("hot path (bearer JWT), account read", per_call(cases["bearer"]), baseline),
            ("hot path (app cookie), account read", per_call(cases["cookie"]), baseline),
            ("hot path + @require_credits(1)", per_call(cases["guarded"]), baseline),
        ]
        from django_focus.runtime import reset_runtime

        reset_runtime()
    return table("full request, in-process Django WSGI handler (bench/django_bench.py)", rows)


def _urlpatterns() -> list[Any]:
    from django.urls import path

    return [path("", hello), path("untouched", untouched), path("guarded", _guarded())]


def __getattr__(name: str) -> Any:
    # ROOT_URLCONF is this module; its patterns are built once Django is set up.
    if name == "urlpatterns":
        patterns = _urlpatterns()
        globals()["urlpatterns"] = patterns
        return patterns
    raise AttributeError(name)


if __name__ == "__main__":
    print(run())
