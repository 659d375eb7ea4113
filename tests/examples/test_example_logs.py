"""The example apps' development servers log requests, never the credentials in them.

runserver and Werkzeug's server write the raw request line (Django: the ``django.server``
logger, https://docs.djangoproject.com/en/5.2/ref/logging/#django-server; Werkzeug: the
``werkzeug`` logger), which carries a return trip's or a refused request's ``?token=``. The
apps install ``focus_middleware.logging``'s filter on that logger instead of silencing it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from .test_demo import banner, interrupt, launch


def b64(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


# Shaped like a session JWT (the filter redacts any such shape; no server needs to accept it).
SECRET = f"{b64({'alg': 'RS256', 'kid': 'k'})}.{b64({'sub': 'user_2secret', 'exp': 1})}.c2lnbmF0dXJlLW5vdC1yZWFs"


@pytest.mark.parametrize("framework", ["flask", "django"])
def test_request_lines_are_logged_with_their_tokens_redacted(tmp_path: Path, framework: str) -> None:
    demo = launch(tmp_path, "--framework", framework)
    try:
        info, _ = banner(demo)
        base = httpx.URL(info["open"]).copy_with(path="/", query=None)
        # A refused API request (401: logged at WARNING) and a return trip (303).
        r = httpx.get(str(base.join(f"/studio?token={SECRET}")), headers={"accept": "application/json"})
        assert r.status_code == 401
        r = httpx.get(str(base.join(f"/studio?focus_state=AAAAAAAAAAAAAAAAAAAAAA&token={SECRET}")),
                      headers={"accept": "text/html", "sec-fetch-mode": "navigate"})
        assert r.status_code in (303, 400)
    finally:
        code, out, err = interrupt(demo)
    logged = out + err
    assert "GET /studio?" in logged, logged[-2000:]  # the access log is on...
    assert SECRET not in logged and SECRET.split(".")[1] not in logged  # ...and holds no token
    assert "[redacted]" in logged
