"""Which response a protected route gets: the guards' one decision, for every adapter.

A guard (``require_account``, ``require_credits``, later ``paid``) states a
:class:`Requirement`; :func:`refusal` compares it with the resolver's outcome and the
request's facts and returns the response to send instead of running the handler, or None.
Adapters only translate that :class:`~focus_middleware.responses.ResponseSpec` into their
framework's response.

The order of the checks is the policy:

1. An account, or no account:
   - Focus unavailable: 503 with ``Retry-After`` (a page for navigations, JSON otherwise);
     never "signed out" and never "signed in".
   - no usable session: navigations go to sign-in (303, with the state nonce and the
     bounce counter; the loop-cut 401 page after ``max_bounces`` rounds), everything else
     gets 401 JSON with ``WWW-Authenticate``. An app with its own sign-in page
     (``signin_page``) gets navigations without a session sent there instead; an expired
     session still bounces straight to Focus, which refreshes it without asking anyone.
2. Cookie-authenticated state changes, and cookie-authenticated paid calls of any method,
   from another origin: 403. ``same-site`` is not enough (every ``*.thefocus.ai`` app is
   same-site).
3. Credits (a soft check: the job reservation stays the authority): a wallet read from the
   stale-if-error window never approves a spend, since it only exists because Focus just
   failed to answer: 503. Too few credits: 402, JSON or the (replaceable) HTML page, and
   the user's cached wallet is dropped (when the adapter passes its resolver as
   ``wallets``), so the next page shows what the user has after buying more. Its
   purchase link returns with the billing marker (see ``sessions.billing_return``).

A paid route (:func:`paid_refusal`) first counts a session token too close to expiry as
expired (it must live long enough to settle the job), and has no soft credits check: the
reservation answers for the credits (a wallet cached before the user bought more must not
send them back to the purchase page). :func:`reservation_refusal` turns the reservation's
error into the same family of responses.
"""

from __future__ import annotations

from dataclasses import dataclass

from focus_middleware import pages
from focus_middleware.config import FocusConfig
from focus_middleware.errors import (
    FocusAPIError,
    FocusError,
    InsufficientCreditsError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from focus_middleware.facts import RequestFacts
from focus_middleware.jobs import PaidRoute, WalletSink, reservation_outcome
from focus_middleware.outcome import Authenticated, Expired, Outcome, Rejected, Unavailable
from focus_middleware.responses import (
    InsufficientCreditsPage,
    Protection,
    ResponseSpec,
    forbidden_cross_origin,
    insufficient_credits,
    is_navigation,
    is_same_origin,
    method_needs_same_origin,
    needs_same_origin,
    public_origin,
    refusal_reason,
    unauthorized,
    unavailable,
)
from focus_middleware.preserve import keeper, return_facts, wants_form
from focus_middleware.sessions import signin_page_redirect, signin_redirect

STALE_RETRY_AFTER = 5
"""``Retry-After`` when only a stale wallet is at hand (Focus failed to answer just now)."""

DEFAULT_ACTION = "This action"
"""What a 402 calls work whose guard and callable give it no name."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a protected route needs: an account (``"account"``), an account with at least
    ``credits`` (``"credits"``), or a paid job (``"paid"``, same-origin for every method).
    ``action`` names the work in a 402."""

    protection: Protection = "account"
    credits: int = 0
    action: str = DEFAULT_ACTION

    def __post_init__(self) -> None:
        if isinstance(self.credits, bool) or not isinstance(self.credits, int) or self.credits < 0:
            raise ValueError(f"credits must be a whole number >= 0, got {self.credits!r}")


ACCOUNT = Requirement()


def action_name(guarded: object) -> str:
    """What a 402 calls the work of ``guarded`` when its guard names none: its ``__name__``
    (or ``guarded`` itself, a name such as a blueprint's) with spaces for underscores, so
    ``render_video`` reads "render video" in every adapter."""
    name = guarded if isinstance(guarded, str) else getattr(guarded, "__name__", DEFAULT_ACTION)
    return str(name).replace("_", " ")


def requirement_for(guarded: object = None, *, credits: int | None = None, action: str | None = None,
                    route: PaidRoute | None = None) -> Requirement:
    """What a guard on ``guarded`` asks of :func:`refusal`, built the same way by every
    adapter's guards: ``route``'s paid job, else ``credits`` of them (validated here, so a
    guard that calls this before it has the callable fails at import time, not on the first
    request), else an account. ``action`` names the work in a 402; by default
    :func:`action_name` of ``guarded``."""
    if route is not None:
        return Requirement(protection="paid", action=route.action)
    if credits is None:
        return ACCOUNT
    return Requirement(protection="credits", credits=credits, action=action or action_name(guarded))


def admits(outcome: Outcome, method: str, requirement: Requirement = ACCOUNT) -> bool:
    """Whether :func:`refusal` lets the request run, known from the outcome and the method
    alone: the common case of a guard (an account, no same-origin check due, enough
    credits in a fresh wallet), decided without building the request's facts (the
    fast path leaves them unbuilt). False means: ask :func:`refusal`."""
    if not isinstance(outcome, Authenticated):
        return False
    if requirement.credits:
        account = outcome.account
        if account.stale or account.credits < requirement.credits:
            return False
    return not method_needs_same_origin(method, outcome, requirement.protection)


def refusal(
    facts: RequestFacts,
    outcome: Outcome,
    config: FocusConfig,
    requirement: Requirement = ACCOUNT,
    *,
    page: InsufficientCreditsPage | None = None,
    nonce: str | None = None,
    signin_page: str | None = None,
    wallets: WalletSink | None = None,
) -> ResponseSpec | None:
    """The response a protected route sends instead of running, or None to run it.

    ``wallets`` (the adapter's resolver) hears of every 402 sent to an account: its
    cached wallet is dropped, so the page after it (typically after buying credits)
    reads the balance from Focus instead of the one that was too low."""
    if not isinstance(outcome, Authenticated):
        return no_account(facts, outcome, config, nonce=nonce, signin_page=signin_page)
    if needs_same_origin(facts, outcome, requirement.protection) and not is_same_origin(facts, config):
        return pages.forbidden(facts=facts, app_name=config.app_name or pages.DEFAULT_APP_NAME) if is_navigation(facts) \
            else forbidden_cross_origin()
    if requirement.credits:
        account = outcome.account
        if account.stale:
            return unavailable_response(facts, STALE_RETRY_AFTER, config)
        if account.credits < requirement.credits:
            if wallets is not None:
                wallets.forget_wallet(account.clerk_id)
            return insufficient_credits(facts, config, required=requirement.credits, available=account.credits,
                                        action=requirement.action, page=page)
    return None


def no_account(facts: RequestFacts, outcome: Outcome, config: FocusConfig, *, nonce: str | None = None,
               signin_page: str | None = None) -> ResponseSpec:
    """The refusal for a request without a usable account."""
    if isinstance(outcome, Unavailable):
        return unavailable_response(facts, outcome.retry_after, config)
    if is_navigation(facts):
        if signin_page is not None and not isinstance(outcome, Expired):
            return signin_page_redirect(facts, config, signin_page)
        plain = signin_redirect(facts, config, nonce=nonce)
        if isinstance(outcome, Expired) and wants_form(facts, config):
            # A form post must not lose what was typed: the adapter hands over the form.
            return keeper(facts, config, plain, signin_redirect(return_facts(facts, config), config))
        return plain
    return unauthorized(facts, config, token_presented=isinstance(outcome, (Rejected, Expired)),
                        reason=refusal_reason(outcome))


def unavailable_response(facts: RequestFacts, retry_after: int, config: FocusConfig | None = None) -> ResponseSpec:
    if not is_navigation(facts):
        return unavailable(retry_after)
    if config is None:
        return pages.unavailable(retry_after, facts=facts)
    return pages.unavailable(retry_after, facts=facts, app_name=config.app_name or pages.DEFAULT_APP_NAME,
                             origin=public_origin(facts, config))


def paid_refusal(
    facts: RequestFacts,
    outcome: Outcome,
    config: FocusConfig,
    route: PaidRoute,
    *,
    page: InsufficientCreditsPage | None = None,
    nonce: str | None = None,
    signin_page: str | None = None,
) -> ResponseSpec | Authenticated:
    """Before reserving: the refusal to send, or the account (and credential) to reserve
    for. Same-origin is required for cookie auth on every method (``Requirement("paid")``)."""
    outcome = reservation_outcome(outcome, config)
    spec = refusal(facts, outcome, config, requirement_for(route=route), page=page, nonce=nonce, signin_page=signin_page)
    if spec is not None:
        return spec
    assert isinstance(outcome, Authenticated)  # refusal() refuses every other outcome
    return outcome


def reservation_refusal(
    facts: RequestFacts,
    config: FocusConfig,
    route: PaidRoute,
    auth: Authenticated,
    error: FocusError,
    *,
    page: InsufficientCreditsPage | None = None,
    nonce: str | None = None,
    signin_page: str | None = None,
) -> ResponseSpec | None:
    """The response for a reservation Focus refused, before the handler runs; None for an
    error that is the app's bug, not the user's situation (a 400 for a bad app slug...):
    the adapter re-raises it. A 402 body that does not say what is available falls back
    to the cached balance. Never retried here: the client already did what is safe."""
    if isinstance(error, InsufficientCreditsError):
        required = route.cost_estimate if error.required is None else error.required
        have = auth.account.credits if error.available is None else error.available
        return insufficient_credits(facts, config, required=required, available=have, action=route.action, page=page,
                                    label=route.label, usual_cost=route.usual_cost)
    if isinstance(error, UnauthorizedError):
        # Revoked between the check and the reservation: as if the credential were refused.
        refused = Rejected("reservation_unauthorized", auth.credential.source)
        return no_account(facts, refused, config, nonce=nonce, signin_page=signin_page)
    if isinstance(error, (UnavailableError, RateLimitedError)):
        hint = error.retry_after
        return unavailable_response(facts, STALE_RETRY_AFTER if hint is None else max(1, round(hint)), config)
    if isinstance(error, FocusAPIError):
        return None
    return unavailable_response(facts, STALE_RETRY_AFTER, config)


__all__ = [
    "ACCOUNT",
    "DEFAULT_ACTION",
    "STALE_RETRY_AFTER",
    "Requirement",
    "action_name",
    "no_account",
    "paid_refusal",
    "refusal",
    "requirement_for",
    "reservation_refusal",
    "unavailable_response",
]
