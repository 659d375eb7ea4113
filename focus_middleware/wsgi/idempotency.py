"""Reading a WSGI request's idempotency key and body hash (for :mod:`focus_middleware.idempotency`).

Through Werkzeug's request, which keeps what it read: the view's own (Flask's, or one a
view made, found at ``environ["werkzeug.request"]``), else one made here. The body is read
once, kept on that request (its form is parsed from the copy) and put back into
``wsgi.input``, so a bare WSGI app or another request object still reads it whole.
"""

from __future__ import annotations

from io import BytesIO
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from focus_middleware.idempotency import (
    FORM_FIELD,
    HEADER,
    Idempotency,
    body_fingerprint,
    form_fingerprint,
    is_form,
    requested,
)
from focus_middleware.responses import ResponseSpec

if TYPE_CHECKING:
    from focus_middleware.facts import RequestFacts


def _request_of(environ: dict[str, Any]) -> Request:
    request = environ.get("werkzeug.request")
    if not isinstance(request, Request):
        request = Request(environ)
    if "form" not in request.__dict__:  # the body is still unread: keep it for everyone
        data = request.get_data(cache=True, parse_form_data=False)
        environ["wsgi.input"] = BytesIO(data)  # a bare WSGI app reads it as if nobody had
    return request


def idempotency_of(environ: dict[str, Any], facts: RequestFacts) -> Idempotency | ResponseSpec | None:
    """The key (header, or the form's hidden field) and the body's hash; None without a key."""
    if is_form(facts.headers.get("content-type")):
        request = _request_of(environ)
        form, files = request.form, request.files
        key = form.get(FORM_FIELD)
        fields = [*form.items(multi=True),
                  *((name, f"file:{file.filename}:{file.content_length}") for name, file in files.items(multi=True))]
        return requested(facts, key, lambda: form_fingerprint(fields))
    if facts.headers.get(HEADER) is None:
        return None
    body = _request_of(environ).get_data(cache=True, parse_form_data=False)
    return requested(facts, None, lambda: body_fingerprint(body))


__all__ = ["idempotency_of"]
