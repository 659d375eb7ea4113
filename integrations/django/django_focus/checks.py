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

from django_focus.conf import CACHE_ALIAS, SETTING, FocusSettingError, config_from_settings

MIDDLEWARE_PATH = "django_focus.middleware.FocusMiddleware"
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


__all__ = ["MIDDLEWARE_PATH", "check_focus_settings"]
