"""What Flask-Focus keeps per app, at ``app.extensions["focus"]``.

The extension object may serve several apps (the factory pattern), each configured
differently; everything that depends on the app's configuration lives here, and is found
at request time through ``current_app``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, has_request_context, request, url_for

from focus_middleware.config import FocusConfig
from focus_middleware.responses import InsufficientCreditsPage, ResponseSpec
from focus_middleware.wsgi import ENVIRON_KEY, FocusWSGIMiddleware, WSGIFocusContext, to_response
from focus_middleware.wsgi.preserve import resolve as keep_form

if TYPE_CHECKING:
    from flask.sansio.app import App
    from werkzeug.wrappers import Request, Response

    from flask_focus.extension import Focus

EXTENSION_KEY = "focus"


@dataclass(eq=False)
class FocusState:
    """One app's Focus: its configuration, the WSGI engine wrapped around ``app.wsgi_app``
    (which settles paid jobs, since only the outermost wrapper sees how a response ended),
    the sign-in view and the 402 page."""

    extension: Focus
    engine: FocusWSGIMiddleware
    signin_view: str | None = None
    page: InsufficientCreditsPage | None = field(default=None, repr=False)

    @property
    def config(self) -> FocusConfig:
        return self.engine.config

    def signin_page(self) -> str | None:
        """The app's own sign-in page for navigations without a session, if it has one
        (``FOCUS_SIGNIN_VIEW`` or ``focus.signin_view``, like Flask-Login's ``login_view``)."""
        view = self.signin_view or self.extension.signin_view
        return url_for(view) if view else None

    def response(self, spec: ResponseSpec) -> Response:
        """A core response as this app's response class (the refusal of a form post
        keeps the form: see :mod:`focus_middleware.preserve`)."""
        if spec.keep_form is not None and has_request_context():
            spec = keep_form(spec, request.environ, current_app.view_functions.get(request.endpoint or ""))
        return to_response(spec, current_app.response_class)

    def close(self) -> None:
        """Deliver kept settlements and close the resolver (tests; at exit the kept
        settlements are drained anyway)."""
        self.engine.close()


def state_of(app: App | Flask) -> FocusState:
    state = app.extensions.get(EXTENSION_KEY)
    if not isinstance(state, FocusState):
        raise RuntimeError("Flask-Focus is not set up for this app: call Focus(app) or focus.init_app(app)")
    return state


def current_state() -> FocusState:
    # The app itself, not its proxy: each attribute read through the proxy costs a lookup.
    return state_of(current_app._get_current_object())  # type: ignore[attr-defined]


def context_of(environ: dict[str, Any]) -> WSGIFocusContext:
    """The request's Focus context: made by the engine when the request came through
    ``app.wsgi_app``; made here for a request that did not (``app.test_request_context()``),
    which then can read the account but not open paid jobs."""
    return current_state().engine.context(environ)


_CONTEXT_ATTRIBUTE = "_focus_context"


def request_context(flask_request: Request) -> WSGIFocusContext:
    """The Focus context of ``flask_request``, kept on it after the first lookup: every
    ``current_account``, ``request.focus_account`` and guard of the request after the first
    costs one dict lookup (and the context stays readable for as long as the request)."""
    kept = flask_request.__dict__
    ctx: WSGIFocusContext | None = kept.get(_CONTEXT_ATTRIBUTE)
    if ctx is None:
        environ = flask_request.environ
        # The context the app's engine attached on the way in, found without asking
        # current_app for the engine: the app's request class knows it (when init_app
        # derived it), and the context knows which engine made it.
        ctx = environ.get(ENVIRON_KEY)
        if type(ctx) is not WSGIFocusContext or ctx.engine is not getattr(flask_request, "_focus_engine", None):
            ctx = context_of(environ)
        kept[_CONTEXT_ATTRIBUTE] = ctx
    return ctx


def current_context() -> WSGIFocusContext:
    """The Focus context of the request being handled (a RuntimeError outside one)."""
    return request_context(request._get_current_object())  # type: ignore[attr-defined]
