"""Reading ``settings.FOCUS`` into the core's :class:`~focus_middleware.config.FocusConfig`.

One dict, keyed by ``FocusConfig``'s field names (``"app"``, ``"api_url"``, ``"issuer"``,
``"public_origin"``, ...), as every adapter names its settings. One key is Django's own:
``"cache_alias"`` names an entry of ``CACHES`` to share lookups between processes (see
:mod:`django_focus.cache`); it becomes the core's ``cache_backend``.

The environment is not read behind the project's back: Django settings are the one source
of truth, and a project that configures by environment writes so in ``settings.py``
(``FOCUS = settings_from_prefixed(os.environ, strict=False)`` reads every ``FOCUS_*``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from focus_middleware.config import ConfigError, FocusConfig

SETTING = "FOCUS"
CACHE_ALIAS = "cache_alias"
"""The one key of ``FOCUS`` that is not a ``FocusConfig`` field."""


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


__all__ = ["CACHE_ALIAS", "SETTING", "FocusSettingError", "config_from_settings", "focus_setting"]
