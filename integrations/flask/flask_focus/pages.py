"""The 402 page in a Flask app: the app's handler, else its template, else the built-in page.

- ``@focus.insufficient_credits_handler``: a function taking
  :class:`~focus_middleware.responses.InsufficientCredits` and returning the page (a string,
  ``render_template(...)``, or any Flask response value whose body is the page);
- ``focus/insufficient_credits.html`` among the app's (or a blueprint's) templates, rendered
  with ``info``, ``action``, ``required``, ``available`` and ``purchase_url`` (Jinja
  autoescaping does the escaping);
- otherwise the core's page.

The status (402), the headers and the JSON answer for API calls stay the core's: only the
HTML a person sees is the app's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import make_response, render_template
from jinja2 import TemplateNotFound

from focus_middleware.responses import InsufficientCredits, default_insufficient_credits_page

TEMPLATE = "focus/insufficient_credits.html"

InsufficientCreditsHandler = Callable[[InsufficientCredits], Any]


def insufficient_credits_page(
        handler_of: Callable[[], InsufficientCreditsHandler | None]) -> Callable[[InsufficientCredits], str]:
    """The page callable handed to the core for this app (the handler is looked up when a
    page is due, so it may be registered after ``init_app``)."""

    def page(info: InsufficientCredits) -> str:
        handler = handler_of()
        if handler is not None:
            value = handler(info)
            return value if isinstance(value, str) else make_response(value).get_data(as_text=True)
        try:
            return render_template(TEMPLATE, info=info, action=info.action, required=info.required,
                                   available=info.available, purchase_url=info.purchase_url)
        except TemplateNotFound as missing:
            if missing.name != TEMPLATE:
                raise  # the app's template exists but includes one that does not
            return default_insufficient_credits_page(info)

    return page
