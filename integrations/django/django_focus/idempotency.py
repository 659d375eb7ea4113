"""Reading a Django request's idempotency key and body hash (for ``focus_middleware.idempotency``).

A form post's key is its hidden field (``{% focus_idempotency_field %}``) and its hash is
taken over the parsed fields (a multipart body's boundary differs on every send); any
other body is hashed as sent. DRF has parsed the body before the view runs, so its
adapter hands over what it read (:data:`PRESET`) instead of reading it again.
"""

from __future__ import annotations

from django.http import HttpRequest

from focus_middleware.facts import RequestFacts
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

PRESET = "_focus_idempotency"
"""Attribute of the Django request where an adapter that already read the body (DRF) puts
its :class:`~focus_middleware.idempotency.Idempotency` (or refusal, or None)."""


def idempotency_of(request: HttpRequest, facts: RequestFacts) -> Idempotency | ResponseSpec | None:
    if hasattr(request, PRESET):
        preset: Idempotency | ResponseSpec | None = getattr(request, PRESET)
        return preset
    if request.method == "POST" and is_form(facts.headers.get("content-type")):
        post, files = request.POST, request.FILES
        key = post.get(FORM_FIELD)
        fields = [*((name, value) for name, values in post.lists() for value in values),
                  *((name, f"file:{f.name}:{f.size}") for name, items in files.lists() for f in items)]
        return requested(facts, key if isinstance(key, str) else None, lambda: form_fingerprint(fields))
    if facts.headers.get(HEADER) is None:
        return None
    body = request.body
    return requested(facts, None, lambda: body_fingerprint(body))


__all__ = ["PRESET", "idempotency_of"]
