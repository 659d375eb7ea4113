"""Keeping a form across a sign-in bounce, the WSGI side (see :mod:`focus_middleware.preserve`).

The form comes from Werkzeug's parser: the request object the app already made (Werkzeug
and Flask keep it at ``environ["werkzeug.request"]``, its parsed form cached) or a new one
over the same environ. A body declared over the bound is not read at all.
"""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request

from focus_middleware.preserve import KEEP_LIMIT, TOO_LARGE, Posted, keeps_form_for, posted_from_pairs
from focus_middleware.responses import ResponseSpec

OPT_OUT_KEY = "focus.keep_form"
"""Set ``environ[OPT_OUT_KEY] = False`` (or wrap the view in ``no_form_keeping``) to turn
keeping off for a request."""


def posted_from_environ(environ: dict[str, Any]) -> Posted:
    """The request's form, as Werkzeug parses it."""
    request = environ.get("werkzeug.request")
    if not isinstance(request, Request):
        request = Request(environ)
    if (request.content_length or 0) > KEEP_LIMIT:
        return TOO_LARGE
    try:
        form, files = request.form, request.files
    except HTTPException:  # RequestEntityTooLarge and friends
        return TOO_LARGE
    posted = posted_from_pairs(form.items(multi=True), (f.filename for f in files.values()))
    if sum(len(k) + len(v) for k, v in posted.fields) > KEEP_LIMIT:
        return TOO_LARGE
    return posted


def resolve(spec: ResponseSpec, environ: dict[str, Any], view: object = None) -> ResponseSpec:
    """``spec`` as it is, or, for the refusal of a form post, the page that keeps it."""
    keeper = spec.keep_form
    if keeper is None:
        return spec
    allowed = environ.get(OPT_OUT_KEY, True) is not False and keeps_form_for(view)
    return keeper.respond(posted_from_environ(environ) if allowed else None, allowed=allowed)


__all__ = ["OPT_OUT_KEY", "posted_from_environ", "resolve"]
