"""``{% load focus %}`` ... ``{% focus_idempotency_field %}`` inside a paid form: the hidden
field with a fresh idempotency key, so a re-post of the form (a reload, a double-click)
is answered without charging again (see ``focus_middleware.idempotency``)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from focus_middleware.idempotency import hidden_field

register = template.Library()


@register.simple_tag
def focus_idempotency_field() -> SafeString:
    return mark_safe(hidden_field())  # noqa: S308 - built from an escaped value only
