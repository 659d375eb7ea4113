"""What the emulator shows a person: sign-in, sign-out, the device page, buying credits.

These play Clerk's hosted pages and the service's own. The rules that matter:

- ``redirect_to`` is checked (:mod:`origins`) before anything else: a refused one gets a
  400 page saying why, never a redirect, and never a token.
- Every form is a POST carrying a CSRF token that must match the browser's CSRF cookie,
  and a POST whose ``Origin`` (or ``Sec-Fetch-Site``) says it came from another site is
  refused, so no other page can sign a browser in or out, approve a device or buy.
- Pages that need a person send a signed-out browser to ``/signin`` with a way back.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from focus_middleware.testing import pages
from focus_middleware.testing.auth import Authenticator, Caller, mint_session_token
from focus_middleware.testing.cookies import CSRF_COOKIE, Cookies
from focus_middleware.testing.credentials import clerk_like_id, new_secret, same_secret, token_hash
from focus_middleware.testing.device import DeviceFlow
from focus_middleware.testing.inputs import ApiError, read_form
from focus_middleware.testing.origins import Origins, RefusedRedirect, normalize_origin, with_query
from focus_middleware.testing.ratelimit import AttemptLimiter
from focus_middleware.testing.store import Account, Store

MAX_PURCHASE = 10_000
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
}


class PageError(Exception):
    """A refusal shown as a page (the browser's counterpart of ``ApiError``)."""

    def __init__(
        self, status: int, title: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.headers = headers

    def response(self) -> HTMLResponse:
        return html_page(pages.problem(self.title, self.message), self.status, self.headers)


def html_page(
    markup: str, status: int = 200, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    return HTMLResponse(markup, status_code=status, headers={**_PAGE_HEADERS, **(headers or {})})


def see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=dict(_PAGE_HEADERS))


class BrowserPages:
    """The page handlers of one emulator."""

    def __init__(
        self,
        auth: Authenticator,
        device: DeviceFlow,
        limiter: AttemptLimiter,
        origins: Origins,
    ) -> None:
        self.auth = auth
        self.store: Store = auth.store
        self.settings = auth.settings
        self.device = device
        self.limiter = limiter
        self._origins = origins

    # -- shared rules -------------------------------------------------------------------

    @property
    def own_url(self) -> str:
        url = self.auth.issuer.url
        assert url is not None
        return url

    @property
    def origins(self) -> Origins:
        """The configured origins plus the emulator's own (its pages redirect to it)."""
        return self._origins.with_origin(self.own_url)

    @property
    def cookies(self) -> Cookies:
        return Cookies(self.settings, self.own_url.startswith("https:"))

    def _checked_redirect(self, redirect_to: str | None) -> str | None:
        """The origin of a given ``redirect_to`` (None when absent), or a 400 page."""
        if redirect_to is None:
            return None
        try:
            return self.origins.check_redirect(redirect_to)
        except RefusedRedirect as exc:
            raise PageError(400, "This link cannot be used", f"Refused: {exc}.") from None

    def _csrf(self, request: Request) -> tuple[str, bool]:
        """The browser's CSRF token, and whether it is new (to be set as a cookie)."""
        token = request.cookies.get(CSRF_COOKIE)
        if token and len(token) >= 32:
            return token, False
        return new_secret(), True

    def _form_page(self, markup: str, token: str, new: bool) -> Response:
        response = html_page(markup)
        if new:
            self.cookies.set_csrf(response, token)
        return response

    async def _posted_form(self, request: Request) -> dict[str, str]:
        """A form posted from one of the emulator's own pages, or a 403/4xx page."""
        self._same_origin(request)
        try:
            form = await read_form(request)
        except ApiError as exc:
            raise PageError(exc.status_code, "The form could not be read", str(exc)) from None
        cookie = request.cookies.get(CSRF_COOKIE, "")
        sent = form.get(pages.CSRF_FIELD, "")
        if not cookie or not sent or not same_secret(cookie, sent):
            raise PageError(
                403,
                "Form expired",
                "This form was not sent from the emulator's page (or the page is too old)."
                " Go back, reload the page and try again.",
            )
        return form

    def _same_origin(self, request: Request) -> None:
        site = request.headers.get("sec-fetch-site")
        origin = request.headers.get("origin")
        if origin == "null" and site == "same-origin":
            # Our pages send Referrer-Policy: no-referrer, under which Chromium posts their
            # forms with "Origin: null"; the Sec-Fetch-Site it sends beside it vouches.
            origin = None
        foreign_site = site is not None and site not in ("same-origin", "none")
        try:
            foreign_origin = origin is not None and normalize_origin(origin) != normalize_origin(
                self.own_url
            )
        except ValueError:
            foreign_origin = True
        if foreign_site or foreign_origin:
            raise PageError(403, "Refused", "This form can only be sent from the emulator's pages.")

    def _signin_redirect(self, back_to: str) -> RedirectResponse:
        return see_other(f"{self.own_url}/signin?{urlencode({'redirect_to': back_to})}")

    def _own(self, path: str, **params: str) -> str:
        query = urlencode({k: v for k, v in params.items() if v})
        return f"{self.own_url}{path}" + (f"?{query}" if query else "")

    # -- sign-in --------------------------------------------------------------------------

    async def signin_page(self, request: Request) -> Response:
        redirect_to = request.query_params.get("redirect_to")
        origin = self._checked_redirect(redirect_to)
        caller = await self.auth.signed_in(request)
        if caller is not None:
            if redirect_to is None:
                return html_page(pages.signed_in(caller.account))
            return self._return_with_token(caller, redirect_to)
        accounts = await run_in_threadpool(self.store.accounts)
        token, new = self._csrf(request)
        app = request.query_params.get("app")
        return self._form_page(pages.signin(accounts, redirect_to, origin, token, app), token, new)

    # -- the index ------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        """``/``: who is signed in here, every wallet, the latest jobs, links to the pages."""
        caller = await self.auth.signed_in(request)
        accounts, jobs = await run_in_threadpool(self._overview)
        return html_page(pages.index(None if caller is None else caller.account, accounts, jobs, self.own_url))

    def _overview(self, recent: int = 20) -> tuple[list[Account], list[dict[str, object]]]:
        accounts = self.store.accounts()
        jobs = [
            {**job, "who": account.display_name}
            for account in accounts
            for job in self.store.jobs(account.id, None, None, recent)
        ]
        jobs.sort(key=lambda job: str(job.get("created_at", "")), reverse=True)
        return accounts, jobs[:recent]

    async def signin(self, request: Request) -> Response:
        form = await self._posted_form(request)
        redirect_to = form.get("redirect_to") or None
        self._checked_redirect(redirect_to)
        account = await run_in_threadpool(self._chosen_account, form)
        previous = await self.auth.signed_in(request)
        if previous is not None and previous.session_id is not None:
            await run_in_threadpool(self.store.end_session, previous.session_id)
        secret, session_id = new_secret(), clerk_like_id("sess")
        await run_in_threadpool(
            self.store.create_session, account.id, session_id, token_hash(secret)
        )
        caller = Caller(account, "signin", session_id, self.store.now())
        if redirect_to is None:
            response: Response = html_page(pages.signed_in(account))
        else:
            response = self._return_with_token(caller, redirect_to)
        self.cookies.set_signin(response, secret)
        return response

    def _chosen_account(self, form: Mapping[str, str]) -> Account:
        """The user picked on the page, or the one with the typed email (created if new)."""
        clerk_id = form.get("user", "").strip()
        if clerk_id:
            account = self.store.find_account(clerk_id)
            if account is None:
                raise PageError(400, "Unknown user", "There is no user with this id.")
            return account
        email, name = form.get("email", "").strip(), form.get("name", "").strip()
        if not 3 <= len(email) <= 200 or "@" not in email:
            raise PageError(400, "Sign-in failed", "Enter an email address (up to 200 characters).")
        if len(name) > 100:
            raise PageError(400, "Sign-in failed", "The name is limited to 100 characters.")
        found = self.store.account_by_email(email)
        if found is not None:
            return found
        return self.store.create_account(clerk_like_id("user"), email, "free", 0, name or None)

    def _return_with_token(self, caller: Caller, redirect_to: str) -> RedirectResponse:
        """Back to ``redirect_to`` with a fresh token in the query.

        Its ``azp`` is the emulator's own origin, not ``redirect_to``'s: Clerk stamps the
        Origin of the Frontend API request, and that request comes from the sign-in page
        on Focus's site (https://clerk.com/docs/guides/sessions/session-tokens, ``azp``).
        """
        token = mint_session_token(
            self.auth.issuer, self.settings, caller, normalize_origin(self.own_url)
        )
        # The emulator's own pages (the device page, billing) know the browser by its
        # sign-in cookie: a token in their URL would only sit in the address bar and the
        # history (it did: /device?user_code=…&token=eyJ…). Only an app gets one.
        own = self._is_own(redirect_to)
        response = see_other(redirect_to if own else with_query(redirect_to, token=token))
        self.cookies.set_clerk_session(response, token)
        return response

    def _is_own(self, url: str) -> bool:
        try:
            return self.origins.check_redirect(url) == normalize_origin(self.own_url)
        except (RefusedRedirect, ValueError):
            return False

    # -- sign-out -------------------------------------------------------------------------

    async def signout_page(self, request: Request) -> Response:
        redirect_to = request.query_params.get("redirect_to")
        self._checked_redirect(redirect_to)
        caller = await self.auth.signed_in(request)
        token, new = self._csrf(request)
        account = None if caller is None else caller.account
        return self._form_page(pages.signout(account, redirect_to, token), token, new)

    async def signout(self, request: Request) -> Response:
        form = await self._posted_form(request)
        redirect_to = form.get("redirect_to") or None
        self._checked_redirect(redirect_to)
        caller = await self.auth.signed_in(request)
        if caller is not None and caller.session_id is not None:
            await run_in_threadpool(self.store.end_session, caller.session_id)
        response: Response = (
            html_page(pages.signed_out(None)) if redirect_to is None else see_other(redirect_to)
        )
        self.cookies.clear_signin(response)
        self.cookies.clear_clerk_session(response)
        return response

    # -- the device page ------------------------------------------------------------------

    def _attempt_keys(self, request: Request, caller: Caller) -> list[str]:
        address = request.client.host if request.client else "unknown"
        return [f"session:{caller.session_id}", f"address:{address}"]

    def _not_limited(self, keys: list[str]) -> None:
        wait = self.limiter.retry_after(keys)
        if wait is not None:
            raise PageError(
                429,
                "Too many attempts",
                f"Too many wrong codes. Try again in {wait} seconds.",
                headers={"Retry-After": str(wait)},
            )

    async def device_page(self, request: Request) -> Response:
        raw_code = request.query_params.get("user_code", "").strip()
        caller = await self.auth.signed_in(request)
        if caller is None:
            return self._signin_redirect(self._own("/device", user_code=raw_code))
        if not raw_code:
            return html_page(pages.device_entry(caller.account))
        keys = self._attempt_keys(request, caller)
        self._not_limited(keys)
        pending = await run_in_threadpool(self.device.pending, raw_code)
        if pending is None:
            self.limiter.fail(keys)
            return self._wrong_code(caller, raw_code)
        token, new = self._csrf(request)
        markup = pages.device_confirm(
            caller.account,
            pending.user_code,
            pending.client_name,
            pending.client_address,
            pending.expires_at,
            token,
        )
        return self._form_page(markup, token, new)

    @staticmethod
    def _wrong_code(caller: Caller, raw_code: str) -> Response:
        message = "This code is wrong, has expired or was already used. Check it and try again."
        return html_page(pages.device_entry(caller.account, raw_code[:20], message), 400)

    async def device_decide(self, request: Request) -> Response:
        form = await self._posted_form(request)
        caller = await self.auth.signed_in(request)
        if caller is None:
            raise PageError(401, "Not signed in", "Sign in first, then enter the code again.")
        decision = form.get("decision")
        if decision not in ("approve", "deny"):
            raise PageError(400, "No decision", "Choose Approve or Deny.")
        keys = self._attempt_keys(request, caller)
        self._not_limited(keys)
        raw_code = form.get("user_code", "")
        decided = await run_in_threadpool(
            self.device.decide, raw_code, caller.account.id, decision == "approve"
        )
        if not decided:
            self.limiter.fail(keys)
            return self._wrong_code(caller, raw_code)
        return html_page(pages.device_done(decision == "approve"))

    # -- buying credits ---------------------------------------------------------------------

    async def billing_page(self, request: Request) -> Response:
        redirect_to = request.query_params.get("redirect_to")
        self._checked_redirect(redirect_to)
        caller = await self.auth.signed_in(request)
        if caller is None:
            return self._signin_redirect(self._own("/billing", redirect_to=redirect_to or ""))
        token, new = self._csrf(request)
        need = request.query_params.get("need", "")
        wanted = int(need) if need.isascii() and need.isdigit() and 0 < int(need) <= MAX_PURCHASE else None
        return self._form_page(pages.billing(caller.account, redirect_to, token, need=wanted), token, new)

    async def buy(self, request: Request) -> Response:
        form = await self._posted_form(request)
        redirect_to = form.get("redirect_to") or None
        self._checked_redirect(redirect_to)
        caller = await self.auth.signed_in(request)
        if caller is None:
            raise PageError(401, "Not signed in", "Sign in first, then buy credits.")
        amount = _amount(form.get("amount", ""))
        await run_in_threadpool(self.store.add_credits, caller.account.id, amount, "purchase")
        if redirect_to is not None:
            return see_other(redirect_to)
        account = await run_in_threadpool(self.store.account, caller.account.id)
        return html_page(pages.billing(account, None, form[pages.CSRF_FIELD], added=amount))


def _amount(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PURCHASE:
        raise PageError(400, "Invalid amount", f"Pick an amount from 1 to {MAX_PURCHASE} credits.")
    return int(raw)
