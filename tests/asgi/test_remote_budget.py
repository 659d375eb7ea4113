"""The remote-check budget is per client address: one client's flood of random bearers
never turns away another client with a genuine new credential (issue 18, item 5).

The client address comes from the ASGI scope's ``client`` (httpx's ASGITransport sets it:
https://www.python-httpx.org/advanced/transports/#asgi-transport), and from
``X-Forwarded-For`` only behind a configured trusted proxy.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from focus_middleware import FocusConfig, FocusMiddleware, require_account
from focus_middleware.budget import RemoteCheckBudget, client_address, client_group
from focus_middleware.clock import FakeClock
from focus_middleware.facts import RequestFacts
from focus_middleware.testing import FocusEmulator

from tests.helpers import ORIGIN, facts

pytestmark = pytest.mark.anyio


@require_account
async def me(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.state.focus_account.clerk_id})


def app_for(config: FocusConfig) -> Starlette:
    app = Starlette(routes=[Route("/me", me)])
    app.add_middleware(FocusMiddleware, config=config)
    return app


def client(app: Starlette, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 4000)), base_url=ORIGIN)


def random_pat() -> dict[str, str]:
    return {"authorization": f"Bearer fpat_{secrets.token_urlsafe(24)}"}


async def test_a_flood_from_one_address_turns_no_one_else_away(config: FocusConfig, emu: FocusEmulator) -> None:
    app = app_for(config.replace(remote_checks_per_second=50, remote_checks_per_client=5))
    real_users = [emu.create_user(credits=1) for _ in range(5)]
    async with client(app, "203.0.113.7") as flooder, client(app, "198.51.100.20") as other:
        flood = [(await flooder.get("/me", headers=random_pat())).status_code for _ in range(80)]
        # Its own small budget (a burst of two seconds' share; the fake clock refills
        # nothing) is spent: the rest of the flood is told to come back (503).
        assert flood.count(401) == 10 and flood.count(503) == 70
        # Meanwhile another address with genuine new PATs is answered at once.
        for user in real_users:
            r = await other.get("/me", headers={"authorization": f"Bearer {user.pat()}"})
            assert r.status_code == 200 and r.json() == {"id": user.clerk_id}
    # Focus saw at most the flooder's budget, not 80 calls.
    assert emu.calls("GET /api/wallet") == 10 + len(real_users)


async def test_an_untrusted_forwarded_for_does_not_make_a_new_client(config: FocusConfig) -> None:
    app = app_for(config.replace(remote_checks_per_client=3))
    async with client(app, "203.0.113.7") as flooder:
        codes = []
        for n in range(20):
            headers = {**random_pat(), "x-forwarded-for": f"192.0.2.{n}"}
            codes.append((await flooder.get("/me", headers=headers)).status_code)
    assert codes.count(503) == 20 - 6  # one budget of 2 x 3 for every claimed address


def test_addresses_behind_a_trusted_proxy(config: FocusConfig) -> None:
    proxied = config.replace(trusted_proxies=("10.0.0.1", "10.0.0.2"))
    hop = facts(headers={"x-forwarded-for": "192.0.2.9, 198.51.100.4, 10.0.0.2"})
    assert client_address(_from(hop, "10.0.0.1"), proxied) == "198.51.100.4"  # nearest untrusted hop
    assert client_address(_from(hop, "203.0.113.1"), proxied) == "203.0.113.1"  # not our proxy: its header is ignored
    assert client_address(_from(facts(), "10.0.0.1"), proxied) == "10.0.0.1"


def _from(f: RequestFacts, peer: str) -> RequestFacts:
    return replace(f, client_addr=peer)


def test_ipv6_is_grouped_by_64_and_ipv4_mapped_is_ipv4() -> None:
    assert client_group("2001:db8:1:2:aaaa::1") == client_group("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_group("2001:db8:1:3::1") != client_group("2001:db8:1:2::1")
    assert client_group("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_group("not an address") == "not an address"


def test_the_ceiling_still_protects_focus_and_the_table_is_bounded(config: FocusConfig, clock: FakeClock) -> None:
    budget = RemoteCheckBudget(config.replace(remote_checks_per_second=10, remote_checks_per_client=5))
    allowed = sum(budget.allow(f"192.0.2.{n}") for n in range(100))  # a hundred addresses at once
    assert allowed == 10  # the ceiling's burst
    clock.advance(1)
    assert budget.allow("192.0.2.200")
    for n in range(10_000):
        budget.allow(f"10.{n // 256}.{n % 256}.1")
    assert len(budget._clients) <= 4096
