"""System checks (``manage.py check``, run by ``runserver`` and ``migrate`` too): a missing
or invalid ``FOCUS`` setting is reported before the first request, with the key at fault
and a hint, instead of as an error page later.

========================  =====================================================================
``django_focus.E001``     ``settings.FOCUS`` is not set
``django_focus.E002``     ``settings.FOCUS`` is not a dict
``django_focus.E003``     a key of ``FOCUS`` is unknown or has an invalid value (named in the message)
``django_focus.E004``     ``FOCUS["cache_alias"]`` names no entry of ``CACHES``
``django_focus.E005``     ``django_focus.middleware.FocusMiddleware`` is not in ``MIDDLEWARE``
``django_focus.E006``     ``ALLOWED_HOSTS`` accepts any host and ``FOCUS["public_origin"]`` is not set
``django_focus.W001``     ``FOCUS["app"]`` is not set (wallets and paid views need it)
``django_focus.W002``     ``FOCUS["public_origin"]``'s host is not in ``ALLOWED_HOSTS``
``django_focus.W003``     paid DRF views exist and ``FocusMiddleware`` (which settles them) is missing
``django_focus.E007``     ``FOCUS["link_users"]`` is on and ``"django_focus.users"`` is not in ``INSTALLED_APPS``
``django_focus.E008``     ``FOCUS["link_users"]`` is on and ``FocusBackend`` is not in ``AUTHENTICATION_BACKENDS``
``django_focus.E009``     ``FOCUS["link_users"]`` is on and ``FocusAuthenticationMiddleware`` is not in ``MIDDLEWARE``
========================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.http.request import split_domain_port, validate_host

from django_focus.conf import CACHE_ALIAS, SETTING, FocusSettingError, config_from_settings, user_linking

MIDDLEWARE_PATH = "django_focus.middleware.FocusMiddleware"
USERS_APP = "django_focus.users"
BACKEND_PATH = "django_focus.users.backends.FocusBackend"
USER_MIDDLEWARE_PATH = "django_focus.users.middleware.FocusAuthenticationMiddleware"
_FIELDS_HINT = ('Keys are FocusConfig field names ("app", "api_url", "issuer", "public_origin", ...) '
                'plus "cache_alias"; see the README\'s configuration reference.')


@register(Tags.security, "focus")
def check_focus_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    try:
        config = config_from_settings()
    except FocusSettingError as error:
        messages.append(_setting_error(error))
        config = None
    if MIDDLEWARE_PATH not in settings.MIDDLEWARE:
        messages.append(Error(
            f"{MIDDLEWARE_PATH} is not in MIDDLEWARE.",
            hint=f'Add "{MIDDLEWARE_PATH}" to MIDDLEWARE, near the top (after SecurityMiddleware).',
            id="django_focus.E005",
        ))
    if config is None:
        return messages
    messages.extend(_linking_messages())
    if MIDDLEWARE_PATH not in settings.MIDDLEWARE:
        messages.extend(_unsettled_paid_views())
    if config.public_origin is None and "*" in settings.ALLOWED_HOSTS:
        messages.append(Error(
            'ALLOWED_HOSTS accepts any host ("*") and FOCUS["public_origin"] is not set: '
            "the URLs Focus sends a browser back to cannot be taken from the request.",
            hint='Set FOCUS["public_origin"] = "https://your.app.example" (or list your hosts in ALLOWED_HOSTS).',
            id="django_focus.E006",
        ))
    if config.app is None:
        messages.append(Warning(
            'FOCUS["app"] is not set: wallets are read without an app, and paid views fail.',
            hint='Set FOCUS["app"] to your app\'s slug on Focus, e.g. {"app": "video"}.',
            id="django_focus.W001",
        ))
    if config.public_origin is not None:
        host = urlsplit(config.public_origin).netloc
        domain, _port = split_domain_port(host)
        allowed = [*settings.ALLOWED_HOSTS] or ([".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
        if not domain or not validate_host(domain, allowed):
            messages.append(Warning(
                f'FOCUS["public_origin"] ({config.public_origin}) names a host ALLOWED_HOSTS does not list: '
                "Django refuses the requests that come back to it.",
                hint=f"Add {domain!r} to ALLOWED_HOSTS, or correct public_origin.",
                id="django_focus.W002",
            ))
    return messages


def _linking_messages() -> list[CheckMessage]:
    try:
        linking = user_linking()
    except FocusSettingError as error:
        return [Error(str(error), hint="See the README's \"Focus users as Django users\".", id="django_focus.E003")]
    if not linking.enabled:
        return []
    messages: list[CheckMessage] = []
    if USERS_APP not in settings.INSTALLED_APPS:
        messages.append(Error(f'FOCUS["link_users"] is on and "{USERS_APP}" is not in INSTALLED_APPS.',
                              hint=f'Add "{USERS_APP}" to INSTALLED_APPS (its table links accounts to users).',
                              id="django_focus.E007"))
    if BACKEND_PATH not in settings.AUTHENTICATION_BACKENDS:
        messages.append(Error(f'FOCUS["link_users"] is on and {BACKEND_PATH} is not in AUTHENTICATION_BACKENDS.',
                              hint=f'Add "{BACKEND_PATH}" to AUTHENTICATION_BACKENDS, before ModelBackend.',
                              id="django_focus.E008"))
    if USER_MIDDLEWARE_PATH not in settings.MIDDLEWARE:
        messages.append(Error(
            f'FOCUS["link_users"] is on and {USER_MIDDLEWARE_PATH} is not in MIDDLEWARE: request.user '
            "is not derived from the Focus credential.",
            hint=f'Put "{USER_MIDDLEWARE_PATH}" in place of django.contrib.auth.middleware.AuthenticationMiddleware.',
            id="django_focus.E009"))
    return messages


def _views(patterns: Sequence[Any]) -> list[Any]:
    found: list[Any] = []
    for entry in patterns:
        inner = getattr(entry, "url_patterns", None)
        if inner is not None:
            found.extend(_views(inner))
        elif getattr(entry, "callback", None) is not None:
            found.append(entry.callback)
    return found


def _unsettled_paid_views() -> list[CheckMessage]:
    """DRF views with a ``@paid`` handler, when no middleware is there to settle them."""
    from django.urls import get_resolver

    from focus_middleware.openapi import requirements_of

    names: list[str] = []
    for view in _views(get_resolver().url_patterns):
        cls = getattr(view, "cls", None)  # DRF's as_view() keeps the class here
        if cls is None:
            continue
        for attr in dir(cls):
            handler = getattr(cls, attr, None)
            if callable(handler) and any(r.protection == "paid" for r in requirements_of(handler)):
                names.append(f"{cls.__module__}.{cls.__qualname__}.{attr}")
    if not names:
        return []
    return [Warning(
        f"Paid views exist ({', '.join(sorted(set(names)))}) and {MIDDLEWARE_PATH} is not in MIDDLEWARE: "
        "their jobs would never be settled, so they refuse to run.",
        hint=f'Add "{MIDDLEWARE_PATH}" to MIDDLEWARE.',
        id="django_focus.W003",
    )]


def _setting_error(error: FocusSettingError) -> Error:
    if error.key is None and error.problem == "is not set":
        return Error(f"settings.{SETTING} is not set.",
                     hint=f'Add {SETTING} = {{"app": "<your app slug>", "public_origin": "https://..."}} to your settings.',
                     id="django_focus.E001")
    if error.key is None and error.problem.startswith("must be a dict"):
        return Error(f"settings.{SETTING} {error.problem}.", hint=f"{SETTING} is one dict. {_FIELDS_HINT}",
                     id="django_focus.E002")
    if error.key == CACHE_ALIAS:
        return Error(str(error), hint=f"Use one of CACHES' aliases: {', '.join(sorted(settings.CACHES))}.",
                     id="django_focus.E004")
    if error.problem == "is not a Focus setting":
        hint = _FIELDS_HINT
    else:
        hint = f"Correct settings.{SETTING}[{error.key!r}]." if error.key else _FIELDS_HINT
    return Error(str(error), hint=hint, id="django_focus.E003")


__all__ = ["BACKEND_PATH", "MIDDLEWARE_PATH", "USERS_APP", "USER_MIDDLEWARE_PATH", "check_focus_settings"]
