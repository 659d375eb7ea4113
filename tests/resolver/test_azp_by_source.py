"""``azp`` decided by where a token was presented, in the resolver itself (locally verified
and remotely checked JWTs alike). The adapters' view of the same rules is the conformance
corpus (tests/conformance).

Sources: Clerk's "Session tokens" page (https://clerk.com/docs/guides/sessions/session-tokens,
"Default claims": ``azp`` is "the Origin header that was included in the original Frontend API
request made from the user ... could be omitted if ... Origin is empty or null"), and
clerk/javascript ``packages/backend/src/jwt/assertions.ts`` ``assertAuthorizedPartiesClaim``:
once authorized parties are configured, a missing ``azp`` is refused and a present one must be
one of them exactly (``authorizedParties.includes(azp)``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from focus_middleware.config import ConfigError, FocusConfig
from focus_middleware.outcome import Authenticated, CredentialSource, Expired, Rejected
from focus_middleware.resolver import Resolver
from focus_middleware.sessions import verify_session_token
from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator
from focus_middleware.tokens import MAX_COOKIE_TOKEN, azp_refusal

from tests.helpers import ORIGIN, facts

SIBLING = "https://other.thefocus.ai"


@pytest.fixture(params=["local", "remote"])
def resolver_mode(request: pytest.FixtureRequest, config: FocusConfig) -> Iterator[Resolver]:
    """The same rules whether the JWT is verified here or by Focus (no issuer configured)."""
    cfg = config if request.param == "local" else config.replace(issuer=None, jwks_url=None)
    r = Resolver(cfg)
    yield r
    r.close()


def present(resolver: Resolver, source: CredentialSource, token: str) -> object:
    if source == "bearer":
        return resolver.resolve(facts(bearer=token))
    if source == "app_cookie":
        return resolver.resolve(facts(cookies={"focus_session": token}))
    if source == "clerk_cookie":
        return resolver.resolve(facts(cookies={"__session": token}))
    return resolver.run(verify_session_token(resolver.core, token, source))


BROWSER: list[CredentialSource] = ["return_trip", "refresh", "app_cookie", "clerk_cookie"]


def accepted(result: object) -> bool:
    # verify_session_token answers a Credential; the request plan an Authenticated outcome.
    return isinstance(result, Authenticated) or type(result).__name__ == "Credential"


@pytest.mark.parametrize("source", BROWSER)
def test_a_token_minted_on_the_signin_site_signs_a_browser_in(
        resolver_mode: Resolver, user: EmulatedUser, emu: FocusEmulator, source: CredentialSource) -> None:
    assert accepted(present(resolver_mode, source, user.session_jwt(azp=emu.url)))


def test_the_same_token_as_a_bearer_is_refused(resolver_mode: Resolver, user: EmulatedUser, emu: FocusEmulator) -> None:
    token = user.session_jwt(azp=emu.url)
    out = present(resolver_mode, "bearer", token)
    assert isinstance(out, Rejected) and out.reason == "azp"
    # Accepted once as a cookie, still refused as a bearer: the cached verification does not
    # carry one source's acceptance over to another.
    assert accepted(present(resolver_mode, "app_cookie", token))
    assert isinstance(present(resolver_mode, "bearer", token), Rejected)


def test_allow_signin_azp_bearer(config: FocusConfig, user: EmulatedUser, emu: FocusEmulator) -> None:
    r = Resolver(config.replace(allow_signin_azp_bearer=True))
    try:
        assert accepted(present(r, "bearer", user.session_jwt(azp=emu.url)))
        assert isinstance(present(r, "bearer", user.session_jwt(azp=SIBLING)), Rejected)
    finally:
        r.close()


@pytest.mark.parametrize("source", ["bearer", *BROWSER])
def test_the_apps_own_origin_is_accepted_everywhere_and_others_nowhere(
        resolver_mode: Resolver, user: EmulatedUser, source: CredentialSource) -> None:
    assert accepted(present(resolver_mode, source, user.session_jwt(azp=ORIGIN)))
    for azp in (SIBLING, "https://evil.example", "null", ORIGIN + "/", ORIGIN.upper()):
        out = present(resolver_mode, source, user.session_jwt(azp=azp))
        assert isinstance(out, Rejected) and out.reason == "azp", azp


@pytest.mark.parametrize("source", ["bearer", *BROWSER])
def test_missing_azp(config: FocusConfig, user: EmulatedUser, source: CredentialSource) -> None:
    strict, lenient = Resolver(config), Resolver(config.replace(allow_missing_azp=True))
    try:
        assert isinstance(present(strict, source, user.session_jwt()), Rejected)
        # Only where the browser's own sign-in could have produced it, never as a bearer.
        assert accepted(present(lenient, source, user.session_jwt())) == (source != "bearer")
    finally:
        strict.close()
        lenient.close()


def test_an_expired_token_for_another_site_is_refused_not_bounced(
        resolver: Resolver, user: EmulatedUser, clock: FakeClock, emu: FocusEmulator) -> None:
    stale_ours, stale_theirs = user.session_jwt(azp=emu.url, lifetime=10), user.session_jwt(azp=SIBLING, lifetime=10)
    clock.advance(60)
    assert isinstance(present(resolver, "app_cookie", stale_ours), Expired)
    assert isinstance(present(resolver, "app_cookie", stale_theirs), Rejected)


def test_pending_sessions_are_signed_out(resolver_mode: Resolver, user: EmulatedUser) -> None:
    # clerk/javascript packages/backend/src/tokens/authObjects.ts: treatPendingAsSignedOut = true.
    out = present(resolver_mode, "bearer", user.session_jwt(azp=ORIGIN, claims={"sts": "pending"}))
    assert isinstance(out, Rejected) and out.reason == "session_pending"
    assert accepted(present(resolver_mode, "bearer", user.session_jwt(azp=ORIGIN, claims={"sts": "active"})))


def test_act_and_organisation_claims_reach_the_account(resolver: Resolver, user: EmulatedUser) -> None:
    token = user.session_jwt(azp=ORIGIN, claims={
        "act": {"sub": "user_admin", "iss": "https://dashboard.clerk.com"},
        # v2: permissions as names (per) and, per org feature in fea, a bitmask (fpm).
        "v": 2, "fea": "o:reports,o:billing,u:beta",
        "o": {"id": "org_1", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3,2"},
    })
    out = present(resolver, "bearer", token)
    assert isinstance(out, Authenticated)
    assert out.account.actor is not None and out.account.actor["sub"] == "user_admin"
    org = out.account.organization
    # Clerk's SDK (jwtPayloadParser.ts) gives the v1 names: org:admin, org:<feature>:<perm>.
    assert org is not None and (org.id, org.slug, org.role) == ("org_1", "acme", "org:admin")
    assert org.permissions == ("org:reports:read", "org:reports:manage", "org:billing:manage")
    v1 = present(resolver, "bearer", user.session_jwt(azp=ORIGIN, claims={
        "v": None, "o": None, "org_id": "org_2", "org_slug": "beta", "org_role": "org:member", "org_permissions": ["x"]}))
    assert isinstance(v1, Authenticated) and v1.account.organization is not None
    assert v1.account.organization.id == "org_2" and v1.account.organization.permissions == ("x",)
    plain = present(resolver, "bearer", user.session_jwt(azp=ORIGIN, claims={"o": None}))
    assert isinstance(plain, Authenticated) and plain.account.actor is None and plain.account.organization is None


def test_a_token_too_large_for_a_cookie_is_refused_as_oversized(resolver: Resolver, user: EmulatedUser) -> None:
    big = user.session_jwt(azp=ORIGIN, claims={"pad": "x" * MAX_COOKIE_TOKEN})
    out = present(resolver, "return_trip", big)
    assert isinstance(out, Rejected) and out.reason == "oversized"
    # As a bearer it is under the header limit and genuine.
    assert accepted(present(resolver, "bearer", big))


def test_without_a_public_origin_nothing_is_checked_and_a_warning_says_so(
        config: FocusConfig, user: EmulatedUser, caplog: pytest.LogCaptureFixture) -> None:
    # Built afresh: replace() would carry over the authorized parties derived from public_origin.
    open_config = FocusConfig(api_url=config.api_url, issuer=config.issuer, app="video", clock=config.clock)
    with caplog.at_level(logging.WARNING, logger="focus_middleware"):
        r = Resolver(open_config)
    try:
        assert any("public_origin" in rec.getMessage() and "FOCUS_PUBLIC_ORIGIN" in rec.getMessage() for rec in caplog.records)
        assert accepted(present(r, "bearer", user.session_jwt(azp=SIBLING)))
        assert azp_refusal(12, "bearer", open_config) == "azp"  # a non-string is never an origin
    finally:
        r.close()


def test_the_settings_read_from_the_environment() -> None:
    config = FocusConfig.from_env({"FOCUS_ALLOW_MISSING_AZP": "true", "FOCUS_ALLOW_SIGNIN_AZP_BEARER": "0",
                                   "FOCUS_PUBLIC_ORIGIN": ORIGIN})
    assert config.allow_missing_azp is True and config.allow_signin_azp_bearer is False
    assert config.signin_origin == "https://account.thefocus.ai"
    with pytest.raises(ConfigError, match="allow_missing_azp"):
        FocusConfig.from_env({"FOCUS_ALLOW_MISSING_AZP": "maybe"})
