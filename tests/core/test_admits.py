"""``access.admits``, the guards' shortcut that decides without the request's facts, never
lets through a request that :func:`~focus_middleware.access.refusal` would refuse: checked
over every outcome, credential source, method, requirement and origin, cross-site ones
included (the facts it does not read must not be able to change its answer)."""

from __future__ import annotations

import itertools

import pytest

from focus_middleware.access import ACCOUNT, Requirement, admits, refusal
from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.models import FocusAccount
from focus_middleware.outcome import ANONYMOUS, Authenticated, Credential, Expired, Outcome, Rejected, Unavailable

CONFIG = FocusConfig(api_url="http://127.0.0.1:9", app="demo", public_origin="https://app.example")


def _account(credits: int, stale: bool, source: str) -> Authenticated:
    account = FocusAccount(id="a1", clerk_id="user_1", credits=credits, credential_kind="session", stale=stale)
    return Authenticated(account, Credential("session", source, "tok", 0.0))  # type: ignore[arg-type]


OUTCOMES: list[Outcome] = [
    *(_account(credits, stale, source) for credits, stale, source in
      itertools.product((0, 5, 50), (False, True), ("bearer", "app_cookie", "clerk_cookie"))),
    ANONYMOUS, Expired("bearer"), Rejected("signature", "app_cookie"), Unavailable("timeout", 5),
]
REQUIREMENTS = [ACCOUNT, Requirement("credits", 5, "Render"), Requirement("credits", 6, "Render"),
                Requirement("paid", 0, "Render")]
METHODS = ["GET", "HEAD", "POST", "DELETE"]
SITES = [{}, {"sec-fetch-site": "same-origin"}, {"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
         {"origin": "https://evil.example"}, {"sec-fetch-mode": "navigate", "sec-fetch-site": "cross-site"}]


def _facts(method: str, headers: dict[str, str]) -> RequestFacts:
    return RequestFacts(method=method, path="/render", query_string="", headers=dict(headers), cookies={},
                        scheme="https", host="app.example")


@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=lambda r: f"{r.protection}-{r.credits}")
@pytest.mark.parametrize("method", METHODS)
def test_what_admits_lets_through_refusal_lets_through(requirement: Requirement, method: str) -> None:
    admitted = 0
    for outcome, headers in itertools.product(OUTCOMES, SITES):
        if admits(outcome, method, requirement):
            admitted += 1
            assert refusal(_facts(method, headers), outcome, CONFIG, requirement) is None, (outcome, headers)
    assert admitted >= len(SITES)  # not vacuous: a bearer with 50 fresh credits meets every requirement


def test_the_plain_cases() -> None:
    bearer, cookie = _account(5, False, "bearer"), _account(5, False, "app_cookie")
    assert admits(bearer, "POST", ACCOUNT) and admits(cookie, "GET", ACCOUNT)
    assert not admits(cookie, "POST", ACCOUNT)  # the origin must be checked: refusal() does
    assert not admits(cookie, "GET", Requirement("paid", 0, "Render"))
    assert not admits(_account(5, True, "bearer"), "GET", Requirement("credits", 1, "Render"))  # stale wallet
    assert not admits(bearer, "GET", Requirement("credits", 6, "Render"))
    assert not admits(ANONYMOUS, "GET", ACCOUNT)
