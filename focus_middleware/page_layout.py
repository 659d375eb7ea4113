"""The frame every refusal page shares: one layout, one style, escaping in one place.

A page is a body template (``templates/<name>.html``, ``string.Template``) filled with
values that are HTML-escaped here, then set into ``templates/_layout.html``. Pieces of HTML a
page builds itself (an optional sentence) go in as :class:`Markup`, made only from escaped
parts by :func:`fragment`, so no caller can pass text through unescaped by accident.

The pages are meant to be read by anyone: ``lang``, one ``h1``, links with their own words,
text contrast above WCAG AA (4.5:1), and readable with the style sheet off.
"""

from __future__ import annotations

import html
import string
from functools import cache
from importlib import resources


class Markup(str):
    """HTML already escaped (built by :func:`fragment`)."""


def escape(value: object) -> str:
    return value if isinstance(value, Markup) else html.escape(str(value), quote=True)


def fragment(template: str, **values: object) -> Markup:
    """A piece of HTML from a ``string.Template`` text and escaped values."""
    return Markup(string.Template(template).substitute({k: escape(v) for k, v in values.items()}))


@cache
def template(name: str) -> string.Template:
    text = resources.files("focus_middleware").joinpath(f"templates/{name}").read_text(encoding="utf-8")
    return string.Template(text)


def render(name: str, *, title: str, app_name: str, **values: object) -> str:
    """The page ``name`` in the shared layout; every value escaped (``Markup`` kept)."""
    body = template(name).substitute({k: escape(v) for k, v in values.items()}, app_name=escape(app_name))
    return template("_layout.html").substitute(title=escape(title), app_name=escape(app_name), body=body)


__all__ = ["Markup", "escape", "fragment", "render", "template"]
