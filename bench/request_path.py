"""The way one request takes through the package: which of its files it enters, in order.

Not a timing: a reading aid, and the figure issue 21 asked for ("a reader following a
request passes 6 files ..."). Two requests: a protected ASGI request (``@require_account``
on Starlette, bearer JWT and wallet cached) and a paid WSGI request (``@paid`` on Werkzeug,
reserve and settle against the in-process emulator). Only this thread's calls into the
package's own files count (the emulator serves from other threads); an *entry* is a call
or a return that moves from one of our files to another, so "16 returns upward" shows up
as entries too.

``python -m bench.request_path`` prints both paths; it uses only public names, so it runs
on older trees as well (``PYTHONPATH=<old checkout> python -m bench.request_path``).
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import focus_middleware

PACKAGE = Path(focus_middleware.__file__).parent
ORIGIN = "http://127.0.0.1:8000"


class PathRecorder:
    """Records the package files a call enters, through ``sys.setprofile``."""

    def __init__(self) -> None:
        self.entries: list[str] = []
        self._current: str | None = None

    def _ours(self, frame: FrameType | None) -> str | None:
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith(str(PACKAGE)) and "/testing/" not in name:
                return str(Path(name).relative_to(PACKAGE.parent))
            if "/integrations/" in name and "/site-packages/" not in name:
                return name.split("/integrations/", 1)[1]
            frame = frame.f_back
        return None

    def _profile(self, frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            here = self._ours(frame)
        elif event == "return":
            here = self._ours(frame.f_back)
        else:
            return
        if here is not None and here != self._current:
            self.entries.append(here)
        self._current = here if here is not None else self._current

    def record(self, call: Callable[[], object]) -> list[str]:
        self.entries, self._current = [], None
        sys.setprofile(self._profile)
        try:
            call()
        finally:
            sys.setprofile(None)
        return self.entries


def protected_asgi_request(emu: Any, token: str) -> Callable[[], object]:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    from focus_middleware import FocusConfig, FocusMiddleware, require_account

    @require_account
    async def me(request: Request) -> Response:
        return PlainTextResponse("hello")

    config = FocusConfig(api_url=emu.url, issuer=emu.issuer, app="bench", public_origin=ORIGIN)
    app = Starlette(routes=[Route("/me", me)])
    app.add_middleware(FocusMiddleware, config=config)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/me", "raw_path": b"/me", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"application/json"),
                         (b"authorization", b"Bearer " + token.encode())],
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}
    loop = asyncio.new_event_loop()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"/me answered {message['status']}")

    def call() -> object:
        return loop.run_until_complete(app(dict(scope), receive, send))

    call()  # warm: JWKS, claims and wallet cached
    return call


def paid_wsgi_request(emu: Any, token: str) -> Callable[[], object]:
    from werkzeug.wrappers import Request, Response

    from focus_middleware import FocusConfig
    from focus_middleware.wsgi import FocusWSGIMiddleware, paid

    @paid(action="render", cost_estimate=2)
    def render(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return Response("rendered")(environ, start_response)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        Request(environ)
        return render(environ, start_response)

    config = FocusConfig(api_url=emu.url, issuer=emu.issuer, app="bench", public_origin=ORIGIN)
    focused = FocusWSGIMiddleware(app, config=config)

    def call() -> object:
        environ = {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/render", "QUERY_STRING": "",
                   "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
                   "REMOTE_ADDR": "127.0.0.1", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO(), "wsgi.multithread": False,
                   "wsgi.multiprocess": False, "wsgi.run_once": False, "HTTP_HOST": "127.0.0.1:8000",
                   "HTTP_ACCEPT": "application/json", "HTTP_AUTHORIZATION": f"Bearer {token}", "CONTENT_LENGTH": "0"}
        statuses: list[str] = []
        body = focused(environ, lambda status, headers, exc_info=None: statuses.append(status))
        try:
            b"".join(body)
        finally:
            getattr(body, "close", lambda: None)()
        if not statuses[0].startswith("200"):
            raise RuntimeError(f"/render answered {statuses[0]}")
        return None

    call()  # warm
    return call


def describe(title: str, entries: list[str]) -> str:
    files = list(dict.fromkeys(entries))
    lines = [f"{title}: {len(files)} files, {len(entries)} entries"]
    lines += [f"  {name:<48} entered {entries.count(name)}x" for name in files]
    return "\n".join(lines)


def main() -> None:
    from focus_middleware.testing import FocusEmulator

    with FocusEmulator(db=":memory:") as emu:
        emu.create_app("bench", starter_credits=0)
        user = emu.create_user(credits=1000)
        token = user.session_jwt(azp=ORIGIN, lifetime=3600)
        recorder = PathRecorder()
        print(f"package: {PACKAGE}")
        print(describe("protected ASGI request (bearer, cached)", recorder.record(protected_asgi_request(emu, token))))
        print(describe("paid WSGI request (bearer, reserve + settle)", recorder.record(paid_wsgi_request(emu, token))))


if __name__ == "__main__":
    main()
