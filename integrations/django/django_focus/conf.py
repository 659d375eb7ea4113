"""Reading ``settings.FOCUS`` into the core's :class:`~focus_middleware.config.FocusConfig`.

One dict, keyed by ``FocusConfig``'s field names (``"app"``, ``"api_url"``, ``"issuer"``,
``"public_origin"``, ...), as every adapter names its settings. One key is Django's own:
``"cache_alias"`` names an entry of ``CACHES`` to share lookups between processes (see
:mod:`django_focus.cache`); it becomes the core's ``cache_backend``. Three more concern
Focus accounts as Django users (:mod:`django_focus.users`, opt-in): ``"link_users"``
(True to map each account to a row of ``AUTH_USER_MODEL``), ``"user_claims"`` (which
user field is kept in sync from which session-token claim) and ``"staff"`` (the Clerk
user ids whose rows get ``is_staff``: Focus itself never grants it).

The environment is not read behind the project's back: Django settings are the one source
of truth, and a project that configures by environment writes so in ``settings.py``
(``FOCUS = settings_from_prefixed(os.environ, strict=False)`` reads every ``FOCUS_*``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from focus_middleware.config import ConfigError, FocusConfig

SETTING = "FOCUS"
CACHE_ALIAS = "cache_alias"
LINK_USERS = "link_users"
USER_CLAIMS = "user_claims"
STAFF = "staff"
DJANGO_KEYS = (CACHE_ALIAS, LINK_USERS, USER_CLAIMS, STAFF)
"""The keys of ``FOCUS`` that are not ``FocusConfig`` fields."""


class FocusSettingError(ImproperlyConfigured):
    """``settings.FOCUS`` is missing or invalid; ``key`` names the offending key (None when
    the whole setting is at fault) and ``problem`` says what is wrong with it."""

    def __init__(self, key: str | None, problem: str) -> None:
        where = f"{SETTING}[{key!r}]" if key is not None else SETTING
        super().__init__(f"settings.{where} {problem}")
        self.key = key
        self.problem = problem


def focus_setting() -> Mapping[str, Any]:
    """``settings.FOCUS``, checked to be a mapping."""
    if not hasattr(settings, SETTING):
        raise FocusSettingError(None, "is not set")
    value = getattr(settings, SETTING)
    if not isinstance(value, Mapping):
        raise FocusSettingError(None, f"must be a dict, got {type(value).__name__}")
    return value


def config_from_settings() -> FocusConfig:
    """The configuration ``settings.FOCUS`` describes; :class:`FocusSettingError` naming
    the key otherwise (the system check reports the same message)."""
    values = dict(focus_setting())
    alias = values.pop(CACHE_ALIAS, None)
    for key in DJANGO_KEYS:
        values.pop(key, None)
    try:
        if alias is not None:
            from django_focus.cache import DjangoCache

            values["cache_backend"] = DjangoCache(alias)
        return FocusConfig.from_mapping(values)
    except ConfigError as error:
        key = error.setting
        problem = str(error).removeprefix(f"{key}: ")
        raise FocusSettingError(key, problem) from None
    except TypeError as error:  # a value of the wrong type that no check foresaw
        raise FocusSettingError(None, f"is invalid: {error}") from None


DEFAULT_USER_CLAIMS: Mapping[str, str] = {"email": "email", "name": "name", "first_name": "first_name",
                                            "last_name": "last_name"}
"""User field <- session-token claim. Clerk puts no email or name into its session token
unless the instance's session token is customised to carry them ("Customize your session
token": ``{"email": "{{user.primary_email_address}}", "first_name": "{{user.first_name}}"}``);
a field the user model lacks is skipped, and an absent claim leaves the field as it is."""


@dataclass(frozen=True)
class UserLinking:
    """``FOCUS["link_users"]``, ``["user_claims"]`` and ``["staff"]``, checked."""

    enabled: bool = False
    claims: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_USER_CLAIMS))
    staff: frozenset[str] = frozenset()


def user_linking() -> UserLinking:
    """How Focus accounts map to Django users; :class:`FocusSettingError` naming the key."""
    values = focus_setting()
    enabled = values.get(LINK_USERS, False)
    if not isinstance(enabled, bool):
        raise FocusSettingError(LINK_USERS, f"must be True or False, got {type(enabled).__name__}")
    claims = values.get(USER_CLAIMS, DEFAULT_USER_CLAIMS)
    if not isinstance(claims, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in claims.items()):
        raise FocusSettingError(USER_CLAIMS, "must map user field names to claim names (str -> str)")
    staff = values.get(STAFF, ())
    if not isinstance(staff, (list, tuple, set, frozenset)) or not all(isinstance(s, str) for s in staff):
        raise FocusSettingError(STAFF, "must be a list of Clerk user ids")
    return UserLinking(enabled=enabled, claims=dict(claims), staff=frozenset(staff))


__all__ = ["CACHE_ALIAS", "DJANGO_KEYS", "LINK_USERS", "SETTING", "STAFF", "USER_CLAIMS", "FocusSettingError",
           "UserLinking", "config_from_settings", "focus_setting", "user_linking"]
