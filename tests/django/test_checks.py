"""The system checks: what `manage.py check` says about the FOCUS setting and its neighbours."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from focus_middleware.clock import FakeClock
from focus_middleware.testing import FocusEmulator

from .conftest import focus_settings


def focus_messages() -> list[Any]:
    return [m for m in run_checks(tags=["focus"]) if m.id.startswith("django_focus.")]


def ids() -> list[str]:
    return [m.id for m in focus_messages()]


def test_a_valid_setting_says_nothing() -> None:
    assert focus_messages() == []


def test_missing_setting(settings: Any) -> None:
    del settings.FOCUS
    [message] = focus_messages()
    assert message.id == "django_focus.E001" and message.msg == "settings.FOCUS is not set."
    assert 'FOCUS = {"app":' in message.hint


def test_not_a_dict(settings: Any) -> None:
    settings.FOCUS = "video"
    [message] = focus_messages()
    assert message.id == "django_focus.E002" and "must be a dict, got str" in message.msg


@pytest.mark.parametrize(("key", "value", "words"), [
    ("issuer", "not a url", "must be an absolute http(s) URL"),
    ("app", "Not A Slug", "must be a slug"),
    ("timeout", "-1", "must be a number > 0"),
    ("public_origin", "https://app.example/path", "is an origin"),
])
def test_an_invalid_value_names_its_key(settings: Any, emu: FocusEmulator, clock: FakeClock, key: str, value: str,
                                        words: str) -> None:
    settings.FOCUS = focus_settings(emu, clock, **{key: value})
    [message] = focus_messages()
    assert message.id == "django_focus.E003"
    assert message.msg.startswith(f"settings.FOCUS['{key}'] ") and words in message.msg
    assert message.hint == f"Correct settings.FOCUS['{key}']."


def test_an_unknown_key(settings: Any, emu: FocusEmulator, clock: FakeClock) -> None:
    settings.FOCUS = focus_settings(emu, clock, api_key="x")
    [message] = focus_messages()
    assert message.id == "django_focus.E003" and message.msg == "settings.FOCUS['api_key'] is not a Focus setting"
    assert "FocusConfig field names" in message.hint and "cache_alias" in message.hint


def test_an_unknown_cache_alias(settings: Any, emu: FocusEmulator, clock: FakeClock) -> None:
    settings.FOCUS = focus_settings(emu, clock, cache_alias="redis")
    [message] = focus_messages()
    assert message.id == "django_focus.E004" and "'redis'" in message.msg
    assert message.hint == "Use one of CACHES' aliases: default, shared."


def test_the_middleware_is_missing(settings: Any) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "focus" not in m]
    [message] = focus_messages()
    assert message.id == "django_focus.E005" and "django_focus.middleware.FocusMiddleware" in message.hint


def test_any_host_without_a_public_origin(settings: Any, emu: FocusEmulator, clock: FakeClock) -> None:
    settings.FOCUS = focus_settings(emu, clock, public_origin=None)
    assert ids() == []
    settings.ALLOWED_HOSTS = ["*"]
    [message] = focus_messages()
    assert message.id == "django_focus.E006" and 'FOCUS["public_origin"]' in message.hint


def test_warnings(settings: Any, emu: FocusEmulator, clock: FakeClock) -> None:
    settings.FOCUS = focus_settings(emu, clock, app=None, public_origin="https://video.example.com")
    assert ids() == ["django_focus.W001", "django_focus.W002"]
    [_, host] = focus_messages()
    assert host.hint == "Add 'video.example.com' to ALLOWED_HOSTS, or correct public_origin."
    settings.ALLOWED_HOSTS = [".example.com"]
    assert ids() == ["django_focus.W001"]


def test_manage_py_check_stops_on_an_error(settings: Any) -> None:
    settings.FOCUS = {"issuer": "nope"}
    with pytest.raises(SystemCheckError) as info:
        call_command("check")
    text = str(info.value)
    assert "(django_focus.E003) settings.FOCUS['issuer'] must be an absolute http(s) URL" in text
    assert "HINT: Correct settings.FOCUS['issuer']." in text


def test_a_request_with_a_broken_setting_names_it_too(settings: Any, client: Any) -> None:
    from django_focus.conf import FocusSettingError

    settings.FOCUS = {"issuer": "nope"}
    with pytest.raises(FocusSettingError, match=r"settings.FOCUS\['issuer'\] must be"):
        client.get("/")
