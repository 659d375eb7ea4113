"""Every case of the Clerk token corpus (clerk_tokens.json), through every adapter.

Each case names the Clerk page or SDK source it follows; the corpus is the executable
form of the token rules (azp by credential source, sts, act, organisation claims, times,
categories, sizes). One emulator and one fake clock serve the module; one app per adapter
and configuration is reused; each run mints a fresh user, so no case sees another's cache
except where a case asks for it (``presented_before``).

How a credential is presented, and what each decision looks like on the wire, is the
table ``WIRE`` below; ``present`` is the one function that does it, for any adapter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from focus_middleware.clock import FakeClock
from focus_middleware.config import FocusConfig
from focus_middleware.testing import EmulatedUser, FocusEmulator
from focus_middleware.tokens import azp_refusal
from tests.conformance.adapters import Adapter, Reply, adapters
from tests.conformance.corpus import APP, Case, Credential, Decision, fill, load_cases, mint, placeholders

CASES = load_cases()
ADAPTERS = ("asgi", "wsgi", "flask", "django")

API = {"accept": "application/json"}
# A navigation as a browser sends it (Fetch Metadata; the core also counts GET + text/html).
NAV = {"sec-fetch-mode": "navigate", "sec-fetch-site": "none", "accept": "text/html"}
REFRESH = {"x-focus-refresh": "1", "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors",
           "content-type": "application/json", "accept": "application/json"}


@dataclasses.dataclass(frozen=True)
class Wire:
    """What a decision looks like for one way of presenting a token."""

    status: int
    stores_cookie: bool
    """Whether the response sets the app's session cookie to the token."""


WIRE: dict[tuple[Credential, Decision], Wire] = {
    # A guarded JSON route, token in Authorization or in a cookie.
    **{(c, "accept"): Wire(200, False) for c in ("bearer", "app_cookie", "clerk_cookie")},
    **{(c, d): Wire(401, False) for c in ("bearer", "app_cookie", "clerk_cookie") for d in ("refuse", "expired")},
    # The sign-in return trip: 303 to the clean URL either way; only a good token is stored.
    ("return_trip", "accept"): Wire(303, True),
    ("return_trip", "refuse"): Wire(303, False),
    ("return_trip", "expired"): Wire(303, False),
    # POST /_focus/session from the refresh script.
    ("refresh", "accept"): Wire(200, True),
    ("refresh", "refuse"): Wire(401, False),
    ("refresh", "expired"): Wire(401, False),
}
PUBLIC_REASON: dict[Decision, str] = {"accept": "authenticated", "refuse": "rejected", "expired": "expired"}
"""What unprotected code sees for each decision (the one place refused and expired differ
for a request that is not a navigation)."""


# -- the module's emulator, apps and users --------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def corpus_emu(corpus_clock: FakeClock) -> Iterator[FocusEmulator]:
    with FocusEmulator(db=":memory:", clock=corpus_clock) as emulator:
        emulator.create_app("video", starter_credits=0)
        yield emulator
        emulator.check_books()


@pytest.fixture(scope="module")
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal() as p:
        yield p


class Harness:
    """Apps per (adapter, configuration), built on first use and closed at the end."""

    def __init__(self, emu: FocusEmulator, clock: FakeClock, portal: BlockingPortal) -> None:
        self.emu = emu
        self.clock = clock
        self.adapters = {a.name: a for a in adapters(portal, APP)}
        self.apps: dict[tuple[str, str], tuple[Any, FocusConfig]] = {}
        # The sign-in site's origin: signin_url defaults to api_url + "/signin".
        signin = urlsplit(FocusConfig(api_url=emu.url).signin_url or "")
        self.names = placeholders(f"{signin.scheme}://{signin.netloc}")

    def settings(self, case: Case) -> dict[str, Any]:
        return {"api_url": self.emu.url, "issuer": self.emu.issuer, "app": "video", "public_origin": APP,
                "clock": self.clock, "timeout": 2.0, "max_retries": 0, "settle_timeout": 2.0,
                # The frozen clock never refills the remote-check budget; the corpus judges tokens.
                "remote_checks_per_client": 1000, "remote_checks_per_second": 1000,
                **fill(case.config, self.names)}

    def config(self, case: Case) -> FocusConfig:
        settings = self.settings(case)
        if isinstance(settings.get("authorized_parties"), list):
            settings["authorized_parties"] = tuple(settings["authorized_parties"])
        return FocusConfig(**settings)

    def app(self, adapter: Adapter, case: Case) -> tuple[Any, FocusConfig]:
        key = (adapter.name, case.config_key)
        if key not in self.apps:
            config = self.config(case)
            self.apps[key] = (adapter.open(config, self.settings(case)), config)
        return self.apps[key]

    def close(self) -> None:
        for (name, _), (app, _) in self.apps.items():
            self.adapters[name].close(app)


@pytest.fixture(scope="module")
def harness(corpus_emu: FocusEmulator, corpus_clock: FakeClock, portal: BlockingPortal) -> Iterator[Harness]:
    h = Harness(corpus_emu, corpus_clock, portal)
    yield h
    h.close()


# -- presenting a token ---------------------------------------------------------------------------


def _cookie_value(set_cookies: list[str], name: str) -> str | None:
    """The value a response sets for cookie ``name`` (None if it sets none; "" if it clears it)."""
    for raw in set_cookies:
        pair = raw.split(";", 1)[0]
        key, _, value = pair.partition("=")
        if key.strip() == name:
            return value.strip().strip('"')
    return None


def _return_trip(adapter: Adapter, app: Any, config: FocusConfig, token: str) -> Reply:
    """Start a sign-in as a navigation would, then come back with the token and the nonce."""
    start = adapter.send(app, "GET", "/private", dict(NAV), None)
    assert start.status == 303, start.body[:300]
    location = start.headers["location"]
    assert location.startswith(f"{config.signin_url}?")
    back = urlsplit(parse_qs(urlsplit(location).query)["redirect_to"][0])
    nonce = parse_qs(back.query)["focus_state"][0]
    state_name = "focus_state"
    state = _cookie_value(start.set_cookies, state_name)
    assert state and nonce in state.split(".")
    target = f"{back.path}?{back.query}&token={quote(token, safe='')}"
    return adapter.send(app, "GET", target, {**NAV, "cookie": f"{state_name}={state}"}, None)


def _request(adapter: Adapter, app: Any, config: FocusConfig, credential: Credential, token: str,
             path: str = "/private", extra: dict[str, str] | None = None) -> Reply:
    headers = dict(extra if extra is not None else API)
    if credential == "bearer":
        headers["authorization"] = f"Bearer {token}"
    elif credential == "app_cookie":
        headers["cookie"] = f"{config.session_cookie}={token}"
    elif credential == "clerk_cookie":
        headers["cookie"] = f"__session={token}"
    elif credential == "return_trip":
        return _return_trip(adapter, app, config, token)
    else:
        body = f'{{"token": "{token}"}}'.encode()
        return adapter.send(app, "POST", "/_focus/session", dict(REFRESH), body)
    return adapter.send(app, "GET", path, headers, None)


def present(adapter: Adapter, app: Any, config: FocusConfig, case: Case, credential: Credential,
            decision: Decision, token: str, user: EmulatedUser) -> None:
    """Present ``token`` as ``credential`` and check the response is ``decision``'s."""
    wire = WIRE[(credential, decision)]
    status = case.status if case.status is not None and credential == case.credential else wire.status
    r = _request(adapter, app, config, credential, token)
    context = f"{case.id} via {adapter.name}: {r.status} {r.body[:300]!r}"
    assert r.status == status, context
    stored = _cookie_value(r.set_cookies, config.session_cookie or "")
    if wire.stores_cookie:
        assert stored == token, context
    else:
        assert not stored, context  # never set to a token (a clean-up may clear it)
    assert token not in r.body.decode("utf-8", "replace"), context  # never echoed back
    if credential == "return_trip" and status == 303:
        assert "token=" not in r.headers["location"], context
    if status == 400:
        # Too big for a cookie: said plainly (a page for the navigation, JSON for the script),
        # never a redirect that would bring the same token back in a loop.
        kind = "text/html" if credential == "return_trip" else "application/json"
        assert r.headers.get("content-type", "").startswith(kind), context
    if credential not in ("bearer", "app_cookie", "clerk_cookie"):
        return
    if decision == "accept":
        body = r.json()
        assert body["clerk_id"] == user.clerk_id, context
        for name, value in (case.account or {}).items():
            assert body.get(name) == value, f"{context}: account.{name}"
    else:
        if credential == "bearer":
            assert 'error="invalid_token"' in r.headers.get("www-authenticate", ""), context
        if case.reason == "session_pending":
            assert r.json().get("reason") == "session_pending", context
    # What unprotected code sees: refused and expired differ here.
    seen = _request(adapter, app, config, credential, token, path="/").json()
    assert seen["reason"] == PUBLIC_REASON[decision], f"{case.id} via {adapter.name}: public route saw {seen}"
    if decision != "accept" and credential != "bearer":
        # A navigation with a refused or expired cookie is sent to sign in (303), never 401.
        nav = _request(adapter, app, config, credential, token, extra=dict(NAV))
        assert nav.status == 303 and nav.headers["location"].startswith(f"{config.signin_url}?"), \
            f"{case.id} via {adapter.name}: navigation got {nav.status}"


@pytest.mark.parametrize("adapter_name", ADAPTERS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, adapter_name: str, harness: Harness) -> None:
    adapter = harness.adapters[adapter_name]
    app, config = harness.app(adapter, case)
    user = harness.emu.create_user(credits=5)
    token = mint(user, case.token, harness.clock, harness.names)
    for before in case.presented_before:
        # The same token, accepted through another source first (and so cached).
        present(adapter, app, config, case, before, "accept", token, user)
    present(adapter, app, config, case, case.credential, case.decision, token, user)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_azp_refusal_helper(case: Case, harness: Harness) -> None:
    """The core's own statement of the azp rule agrees with the corpus: "azp" exactly
    where the corpus refuses for azp, None (acceptable) everywhere else."""
    azp = fill(case.token, harness.names).get("azp")
    expected = "azp" if case.reason == "azp" else None
    assert azp_refusal(azp, case.credential, harness.config(case)) == expected


def test_the_corpus_covers_the_issue() -> None:
    """The minimum the issue asks for is there, so trimming the JSON cannot quietly drop it."""
    ids = {c.id for c in CASES}
    for prefix in ("v2-app-azp", "v1-app-azp", "v2-signin-azp", "azp-sibling", "azp-other-site", "azp-absent",
                   "azp-null-string", "azp-app-trailing-slash", "azp-app-upper-case", "exp-beyond-leeway",
                   "exp-just-past", "sts-pending"):
        for credential in ("bearer", "app_cookie", "clerk_cookie", "return_trip", "refresh"):
            assert f"{prefix}-{credential}" in ids, f"{prefix}-{credential}"
    for needed in ("allow-missing-azp-absent-bearer", "allow-signin-azp-bearer-signin-bearer",
                   "nbf-within-leeway-bearer", "nbf-beyond-leeway-bearer", "iat-within-leeway-bearer",
                   "iat-beyond-leeway-bearer", "category-template-bearer", "typ-not-jwt-bearer", "machine-sub-bearer",
                   "act-impersonation-bearer", "org-v2-bearer", "org-v1-bearer", "sts-active-bearer",
                   "sts-absent-bearer", "size-5000-return_trip", "size-5000-refresh", "size-9000-bearer"):
        assert needed in ids, needed
    assert all(c.source for c in CASES)
