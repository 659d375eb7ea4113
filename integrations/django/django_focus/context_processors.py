"""``django_focus.context_processors.focus``: the account and the Focus URLs in templates.

Add it to ``TEMPLATES[...]["OPTIONS"]["context_processors"]``. Templates then have:

- ``focus_account``: the same lazy object as ``request.focus_account`` (nothing is resolved
  unless the template reads it);
- ``focus_refresh_script_url``: for ``<script src="{{ focus_refresh_script_url }}" defer>``,
  which keeps a browser's session fresh (``focus_middleware.sessions``);
- ``focus_signout_url``: for ``<form method="post" action="{{ focus_signout_url }}">``;
- ``focus_signed_out_url``: the signed-out page, for that form's ``next``;
- ``focus_signin_url``: a link that starts a sign-in and comes back here
  (``?next=`` a same-origin URL, default: the app's root).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from focus_middleware.sessions import SIGNED_OUT_PATH, SIGNIN_PATH, SIGNOUT_PATH, refresh_script_path

from django_focus.request import AnonymousFocusAccount, focus_context


def focus(request: HttpRequest) -> dict[str, Any]:
    account = getattr(request, "focus_account", None)
    root = focus_context(request).facts.root_path if account is not None else request.META.get("SCRIPT_NAME", "")
    return {
        "focus_account": account if account is not None else AnonymousFocusAccount(),
        "focus_refresh_script_url": refresh_script_path(root),
        "focus_signout_url": root + SIGNOUT_PATH,
        "focus_signin_url": root + SIGNIN_PATH,
        "focus_signed_out_url": root + SIGNED_OUT_PATH,
    }


__all__ = ["focus"]
