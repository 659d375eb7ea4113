"""``focus login``: the device-code flow (RFC 8628), ending with a stored PAT.

The person approves in a browser, possibly on another machine, so the command's job is
to show the code and the URL unmistakably, then wait politely: the first poll after
``interval`` seconds, never faster, ``slow_down`` adding 5 s to the interval for the rest
of the login (RFC 8628 section 3.5), and a stop at ``expires_in`` even if the service
never says ``expired_token``. A few failed polls in a row (Focus briefly unreachable)
are waited out rather than ending a login the person may be half-way through.

``FOCUS_CLI_POLL_SCALE`` (a number in (0, 1]) multiplies every pause between polls. It
exists for tests, which would otherwise spend real seconds per poll; the interval the
command reports, and adds 5 s to, stays the service's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from focus_middleware.cli.browser import headless_reason, open_browser
from focus_middleware.cli.context import credential_store, describe, make_client
from focus_middleware.cli.exits import NOT_LOGGED_IN, USAGE, CLIError, remember_secret
from focus_middleware.cli.output import printable
from focus_middleware.cli.progress import Progress, progress_for
from focus_middleware.client import FocusClient
from focus_middleware.errors import FocusAPIError, FocusError, NotFoundError, RateLimitedError, UnavailableError
from focus_middleware.models import DevicePoll, DeviceStart

SLOW_DOWN_STEP = 5
POLL_SCALE_ENV = "FOCUS_CLI_POLL_SCALE"
MAX_FAILED_POLLS = 5


def poll_scale(environ: Mapping[str, str] | None = None) -> float:
    """``$FOCUS_CLI_POLL_SCALE`` (tests only), 1 when unset."""
    raw = (os.environ if environ is None else environ).get(POLL_SCALE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        scale = float(raw)
    except ValueError:
        scale = 0.0
    if not 0 < scale <= 1:
        raise CLIError(f"{POLL_SCALE_ENV} must be a number in (0, 1], not {raw!r}", USAGE)
    return scale


def wait_for_token(
    poll: Callable[[str], DevicePoll],
    started: DeviceStart,
    progress: Progress,
    *,
    scale: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll until the code is approved (the PAT) or can no longer be (a :class:`CLIError`
    with exit code 3). ``progress`` does the waiting, so it is also what Ctrl-C interrupts."""
    interval = float(started.interval)
    deadline = clock() + started.expires_in
    failures = 0
    extra_wait = 0.0
    while True:
        progress.wait(min(clock() + max(interval, extra_wait) * scale, deadline), deadline)
        extra_wait = 0.0
        if clock() >= deadline:
            raise _expired(started)
        try:
            answer = poll(started.device_code)
        except (UnavailableError, RateLimitedError) as exc:
            failures += 1
            if failures >= MAX_FAILED_POLLS:
                raise
            if isinstance(exc, RateLimitedError) and exc.retry_after:
                extra_wait = exc.retry_after
            progress.note(f"Focus did not answer ({exc}); trying again")
            continue
        failures = 0
        if answer.status == "approved":
            if not answer.token:
                raise FocusAPIError(200, None, "GET /api/device/poll: approved without a token")
            remember_secret(answer.token)
            return answer.token
        if answer.status == "slow_down":
            interval += SLOW_DOWN_STEP
            progress.note(f"Focus asked to poll less often: every {interval:g} s from now on")
        elif answer.status == "expired_token":
            raise _expired(started)
        elif answer.status == "access_denied":
            raise CLIError("the login was denied in the browser; nothing was stored", NOT_LOGGED_IN)
        elif answer.status == "invalid_grant":
            raise CLIError(
                "this code was already redeemed (perhaps an answer was lost on the way); run `focus login` again",
                NOT_LOGGED_IN,
            )


def _expired(started: DeviceStart) -> CLIError:
    return CLIError(
        f"the code {printable(started.user_code)} expired before it was approved; run `focus login` again",
        NOT_LOGGED_IN,
    )


def _prompt(started: DeviceStart, base_url: str) -> str:
    # What the service sent is printed as text, never as terminal control sequences.
    lines = [f"Log in to Focus at {base_url}", "", f"  Code:  {printable(started.user_code)}"]
    if started.verification_uri_complete:
        lines += [
            f"  Open:  {printable(started.verification_uri_complete)}",
            "",
            "Check that the page shows the same code, then approve.",
        ]
    else:
        lines += [f"  Open:  {printable(started.verification_uri)}", "", "Enter the code there, then approve."]
    return "\n".join(lines)


def _offer_browser(url: str, no_browser: bool) -> str:
    if no_browser:
        return "Open the URL above in a browser (--no-browser)."
    reason = headless_reason()
    if reason is not None:
        return f"Open the URL above in a browser (not opening one here: {reason})."
    if urlsplit(url).scheme not in ("http", "https"):
        return "Open the URL above in a browser (not opening a URL that is not http(s))."
    if open_browser(url):
        return "Opened your browser; if it did not appear, open the URL above."
    return "Could not open a browser: open the URL above yourself."


def _device_start(client: FocusClient, base_url: str) -> DeviceStart:
    """``POST /api/device/start``; a 404 there means this is not a Focus service at all
    (most often the app's own URL, given for Focus's): exit 2, saying so."""
    try:
        return client.device_start()
    except NotFoundError:
        raise CLIError(
            f"{base_url} does not look like a Focus service (POST /api/device/start: not found (404)):"
            " did you give the app's URL? --base-url (or FOCUS_API_URL) is Focus's, e.g. the emulator's"
            " http://localhost:8787",
            USAGE,
        ) from None


def run_login(args: argparse.Namespace) -> int:
    store = credential_store(args)
    scale = poll_scale()
    out = sys.stdout
    with make_client(store.base_url) as client:
        started = _device_start(client, store.base_url)
        remember_secret(started.device_code)
        print(_prompt(started, store.base_url), file=out)
        url = started.verification_uri_complete or started.verification_uri
        print(_offer_browser(url, args.no_browser), file=out, flush=True)
        progress = progress_for(out)
        try:
            token = wait_for_token(client.device_poll, started, progress, scale=scale)
        finally:
            progress.close()
        saved = store.save(token)
        try:
            wallet = client.wallet(token=token)
        except FocusError:
            who = ""
        else:
            who = f" as {wallet.clerk_id} ({wallet.credits} credits)"
    print(f"Logged in to {store.base_url}{who}.", file=out)
    print(f"Token stored in {describe(saved)}.", file=out, flush=True)
    if store.env_token is not None:
        print("Note: FOCUS_TOKEN is set and overrides the stored token until it is unset.", file=sys.stderr)
    return 0
