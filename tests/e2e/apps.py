"""Small apps written here for the walk, one per framework, the same pages in each:

- ``/``: public; says who is signed in, if anyone.
- ``/account`` (account required): who, and the credits (``#account-email``, ``#credits``).
- ``/render``: GET shows the paid action's form (account required); POST is the paid
  action (``render``: estimate 5, actual cost 3), answered with a redirect to ``/account``.
  The form's own URL answers GET, so a browser sent back to it (after buying credits on
  the 402 page, or after a sign-in bounce of the POST) lands on the form again.
- every page: the refresh script, and a sign-out form (``#sign-out``) posting to
  ``/_focus/signout``.

They stand in until ``example_apps/`` has the real ones, and stay as the library's own
walk: the decorators and the middleware, no app code in between.
"""

from __future__ import annotations

import html
from typing import Any

from focus_middleware import FocusConfig, FocusMiddleware, paid, require_account
from focus_middleware.clock import FakeClock
from focus_middleware.models import FocusAccount
from focus_middleware.testing import FocusEmulator

APP = "video"
ACTION = "render"
ESTIMATE = 5
COST = 3


def layout(title: str, body: str, account: FocusAccount | None) -> str:
    who = (f'<p>Signed in as <strong id="account-id">{html.escape(account.clerk_id)}'
           "</strong></p>"
           '<form method="post" action="/_focus/signout"><input type="hidden" name="next" value="/">'
           '<button type="submit" id="sign-out">Sign out</button></form>'
           if account is not None else '<p id="signed-out">Not signed in. <a href="/account">Sign in</a></p>')
    return ("<!doctype html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            '<link rel="icon" href="data:,">'
            '<script src="/_focus/refresh.js" defer></script></head>'
            f'<body><header>{who}</header><main><h1>{html.escape(title)}</h1>{body}</main></body></html>\n')


def account_body(account: FocusAccount) -> str:
    return (f'<p>Credits: <strong id="credits">{account.credits}</strong></p>'
            '<p><a id="to-render" href="/render">Render a video</a></p>')


def render_body(account: FocusAccount) -> str:
    return (f"<p>A render costs up to {ESTIMATE} credits; you have {account.credits}.</p>"
            '<form method="post" action="/render"><button type="submit" id="render">Render</button></form>')


# -- Starlette ------------------------------------------------------------------------------------


def starlette_app(emu: FocusEmulator, clock: FakeClock, origin: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, RedirectResponse, Response
    from starlette.routing import Route

    from focus_middleware.asgi.paid_endpoints import focus_job

    async def home(request: Request) -> Response:
        return HTMLResponse(layout("Video", "<p>Welcome.</p>", request.state.focus_account))

    @require_account
    async def account(request: Request) -> Response:
        me = request.state.focus_account
        return HTMLResponse(layout("Your account", account_body(me), me))

    @require_account
    async def render_form(request: Request) -> Response:
        me = request.state.focus_account
        return HTMLResponse(layout("Render", render_body(me), me))

    @paid(action=ACTION, cost_estimate=ESTIMATE)
    async def render(request: Request) -> Response:
        focus_job(request).actual_cost = COST
        return RedirectResponse("/account", status_code=303)

    app = Starlette(routes=[
        Route("/", home),
        Route("/account", account),
        Route("/render", render_form, methods=["GET"]),
        Route("/render", render, methods=["POST"]),
    ])
    app.add_middleware(FocusMiddleware, config=FocusConfig(
        api_url=emu.url, issuer=emu.issuer, app=APP, public_origin=origin, clock=clock,
        timeout=5.0, max_retries=0))
    return app


# -- Flask ----------------------------------------------------------------------------------------


def flask_app(emu: FocusEmulator, clock: FakeClock, origin: str) -> Any:
    from flask import Flask, redirect, request

    from flask_focus import Focus
    from flask_focus.testing import emulator_settings

    app = Flask(__name__)
    app.config.update(**emulator_settings(emu), FOCUS_APP=APP, FOCUS_PUBLIC_ORIGIN=origin, FOCUS_CLOCK=clock,
                      FOCUS_TIMEOUT="5", FOCUS_MAX_RETRIES=0)
    focus = Focus(app)

    @app.get("/")
    def home() -> Any:
        return layout("Video", "<p>Welcome.</p>", request.focus_account)  # type: ignore[attr-defined]

    @app.get("/account")
    @focus.login_required
    def account() -> Any:
        me = request.focus_account  # type: ignore[attr-defined]
        return layout("Your account", account_body(me), me)

    @app.get("/render")
    @focus.login_required
    def render_form() -> Any:
        me = request.focus_account  # type: ignore[attr-defined]
        return layout("Render", render_body(me), me)

    @app.post("/render")
    @focus.paid(action=ACTION, cost_estimate=ESTIMATE)
    def render() -> Any:
        request.focus_job.actual_cost = COST  # type: ignore[attr-defined]
        return redirect("/account", 303)

    return app
