"""The middleware's endpoints as a Flask blueprint.

Routes (under ``/_focus``, so ``url_for("focus.signout")`` and friends work in templates):
``session`` (the refresh endpoint), ``refresh_script``, ``signout``, ``signin`` (the
start of a sign-in that comes back to ``next``, for the button of an app's own sign-in
page), and ``signed_out`` (the page to send sign-out's ``next`` to). Every method is routed to them so that the core, not Flask, answers a wrong one.
The views only drive the core (:meth:`FocusWSGIMiddleware.answer`): what the response is,
is decided there. The return trip from sign-in comes back to whatever URL started it, so it
is no route: the WSGI engine around ``app.wsgi_app`` answers it before Flask runs, which
keeps every other request free of a ``before_request`` hook.
"""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.wrappers import Response

from focus_middleware.wsgi import read_body

from flask_focus.state import current_context, current_state

NAME = "focus"
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_ROUTES = {"/session": "session", "/refresh.js": "refresh_script", "/signout": "signout", "/signin": "signin",
           "/preserve.js": "preserve_script", "/signed-out": "signed_out"}


def _answer() -> Response:
    state, ctx = current_state(), current_context()
    environ = request.environ
    return state.response(state.engine.answer(ctx, lambda limit: read_body(environ, limit)))


def endpoints_blueprint() -> Blueprint:
    """The blueprint (one per app: a blueprint remembers the apps it was set up on)."""
    bp = Blueprint(NAME, __name__, url_prefix="/_focus")
    for path, endpoint in _ROUTES.items():
        bp.add_url_rule(path, endpoint, _answer, methods=_METHODS, provide_automatic_options=False)
    return bp


__all__ = ["NAME", "endpoints_blueprint"]
