"""What every adapter's form-keeping test reads off the interstitial page (issue 24)."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

ORIGIN = "http://app.example.test"


def form_post(origin: str = ORIGIN) -> dict[str, str]:
    """A browser's form post from the app's own page (Fetch Metadata; see
    https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Sec-Fetch-Site)."""
    return {"sec-fetch-mode": "navigate", "sec-fetch-site": "same-origin", "accept": "text/html",
            "referer": f"{origin}/studio?tab=1"}


def cross_site_post(origin: str = ORIGIN) -> dict[str, str]:
    return {**form_post(origin), "sec-fetch-site": "cross-site", "origin": "https://evil.example",
            "referer": "https://evil.example/"}


FORM_POST = form_post()
CROSS_SITE_POST = cross_site_post()
TYPED = {"title": "My </script><b>clip</b> & co", "csrfmiddlewaretoken": "csrf-secret",
         "csrf_token": "csrf-secret-2", "password": "hunter2", "notes": "line\u2028two"}

_DATA = re.compile(r'<script type="application/json" id="focus-kept-form">(.*?)</script>', re.S)


def kept(body: str) -> dict[str, Any]:
    """The JSON the interstitial hands its script."""
    found = _DATA.search(body)
    assert found is not None, body
    raw = found.group(1)
    assert "</" not in raw and "<" not in raw, raw  # no value can end the element
    data: dict[str, Any] = json.loads(raw)
    return data


def assert_interstitial(status: int, body: str, action: str, max_age: int = 600, origin: str = ORIGIN) -> dict[str, Any]:
    assert status == 200, (status, body)
    data = kept(body)
    fields = dict(data["fields"])
    assert fields["title"] == TYPED["title"] and fields["notes"] == TYPED["notes"]
    # CSRF tokens (a fresh one is issued by the page) and passwords are never kept.
    assert not {"csrfmiddlewaretoken", "csrf_token", "password"} & set(fields), fields
    assert "csrf-secret" not in body and "hunter2" not in body
    assert data["action"] == action and data["max_age"] == max_age
    # Sign-in comes back to the page the form was on, with a state nonce.
    redirect_to = parse_qs(urlsplit(data["signin"]).query)["redirect_to"][0]
    assert redirect_to.startswith(f"{origin}/studio?tab=1&focus_state="), redirect_to
    assert f'href="{html.escape(data["signin"])}"' in body  # the link without JavaScript
    assert '<script src="/_focus/preserve.js"></script>' in body
    return data


def assert_not_kept_page(status: int, body: str) -> None:
    assert status == 401, (status, body)
    assert 'id="focus-form-not-kept"' in body and "send it again" in body
    assert "focus-kept-form" not in body
