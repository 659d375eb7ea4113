"""FocusConfig: documented defaults, derived settings, validation that names the setting,
and construction from the environment and from mappings (Flask's config, Django's dict)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from focus_middleware.clock import SYSTEM_CLOCK, FakeClock
from focus_middleware.config import DEFAULT_API_URL, ConfigError, FocusConfig, settings_from_prefixed

PEM = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"


def test_defaults() -> None:
    config = FocusConfig()
    assert config.api_url == DEFAULT_API_URL == "https://account.thefocus.ai"
    assert config.app is None and config.issuer is None and not config.verifies_locally
    assert config.signin_url == f"{DEFAULT_API_URL}/signin"
    assert config.purchase_url == f"{DEFAULT_API_URL}/billing"
    assert config.session_cookie == "focus_session"
    assert config.authorized_parties == ()
    assert (config.leeway, config.min_token_life, config.timeout, config.max_retries) == (5.0, 30.0, 5.0, 2)
    assert config.pat_ttl == 60.0 and config.clock is SYSTEM_CLOCK


def test_derived_settings() -> None:
    config = FocusConfig(
        api_url="http://localhost:8080/",
        issuer="https://clerk.example/",
        public_origin="https://App.Example/",
    )
    assert config.api_url == "http://localhost:8080"
    assert config.issuer == "https://clerk.example"
    assert config.jwks_url == "https://clerk.example/.well-known/jwks.json"
    assert config.public_origin == "https://app.example"
    assert config.authorized_parties == ("https://app.example",)
    assert config.session_cookie == "__Host-focus_session"  # https origin
    assert config.signin_url == "http://localhost:8080/signin" and config.verifies_locally


def test_explicit_values_win() -> None:
    config = FocusConfig(
        issuer="https://clerk.example",
        jwt_public_key=PEM,
        authorized_parties=("https://A.example/", "http://b.example:8000"),
        signin_url="https://login.example/in/",
        purchase_url="https://shop.example/buy",
        session_cookie="my_session",
    )
    assert config.jwks_url is None  # a static key instead of a JWKS
    assert config.authorized_parties == ("https://a.example", "http://b.example:8000")
    assert config.signin_url == "https://login.example/in"
    assert config.purchase_url == "https://shop.example/buy"
    assert config.session_cookie == "my_session"


@pytest.mark.parametrize(
    ("setting", "kwargs"),
    [
        ("api_url", {"api_url": "ftp://files.example"}),
        ("api_url", {"api_url": "account.thefocus.ai"}),
        ("api_url", {"api_url": "https://user:pw@account.example"}),
        ("app", {"app": "Video App"}),
        ("app", {"app": "-video"}),
        ("issuer", {"issuer": "clerk.example"}),
        ("issuer", {"jwks_url": "https://clerk.example/jwks"}),
        ("issuer", {"jwt_public_key": PEM}),
        ("jwks_url", {"issuer": "https://i.example", "jwks_url": "/jwks.json"}),
        ("jwt_public_key", {"issuer": "https://i.example", "jwt_public_key": "not a key"}),
        ("public_origin", {"public_origin": "https://app.example/path"}),
        ("public_origin", {"public_origin": "app.example"}),
        ("authorized_parties", {"authorized_parties": ("app.example",)}),
        ("signin_url", {"signin_url": "/signin"}),
        ("purchase_url", {"purchase_url": "javascript:alert(1)"}),
        ("session_cookie", {"session_cookie": "__session"}),
        ("session_cookie", {"session_cookie": "__session_abc"}),
        ("session_cookie", {"session_cookie": "two words"}),
        ("clerk_cookie_suffix", {"clerk_cookie_suffix": "a.b"}),
        ("timeout", {"timeout": 0}),
        ("timeout", {"timeout": -1.0}),
        ("timeout", {"timeout": True}),
        ("timeout", {"timeout": "5"}),
        ("settle_timeout", {"settle_timeout": 0}),
        ("leeway", {"leeway": -0.1}),
        ("pat_ttl", {"pat_ttl": 0}),
        ("negative_ttl", {"negative_ttl": -5}),
        ("token_cache_size", {"token_cache_size": 0}),
        ("remote_checks_per_second", {"remote_checks_per_second": 0}),
        ("max_retries", {"max_retries": -1}),
        ("max_retries", {"max_retries": 1.5}),
        ("max_retries", {"max_retries": False}),
        ("max_bounces", {"max_bounces": -1}),
    ],
)
def test_invalid_values_fail_at_construction_naming_the_setting(setting: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        FocusConfig(**kwargs)
    assert info.value.setting == setting
    assert str(info.value).startswith(f"{setting}: ")
    assert isinstance(info.value, ValueError)


def test_zero_is_allowed_where_it_means_off() -> None:
    config = FocusConfig(leeway=0, min_token_life=0, negative_ttl=0, stale_if_error=0, max_retries=0, max_bounces=0)
    assert config.max_retries == 0 and config.stale_if_error == 0


@pytest.mark.parametrize("setting", ["timeout", "leeway", "pat_ttl"])
def test_nan_is_refused(setting: str) -> None:
    with pytest.raises(ConfigError):
        FocusConfig(**{setting: math.nan})


def test_infinite_leeway_is_refused() -> None:
    with pytest.raises(ConfigError):
        FocusConfig(leeway=math.inf)


def test_frozen_and_replace() -> None:
    config = FocusConfig(app="video")
    with pytest.raises(AttributeError):
        config.app = "audio"  # type: ignore[misc]
    other = config.replace(app="audio", timeout=1.0)
    assert (other.app, other.timeout, config.app) == ("audio", 1.0, "video")
    with pytest.raises(ConfigError):
        config.replace(timeout=0)


def test_replace_works_derived_settings_out_again() -> None:
    # dataclasses.replace alone copied them: a copy without public_origin still checked azp
    # against the old origin, and one with a new api_url signed in at the old service.
    config = FocusConfig(api_url="http://focus.test", issuer="http://clerk.test", public_origin="https://app.test",
                         app="video")
    assert (config.authorized_parties, config.session_cookie) == (("https://app.test",), "__Host-focus_session")
    no_origin = config.replace(public_origin=None)
    assert (no_origin.authorized_parties, no_origin.checks_azp, no_origin.session_cookie) == ((), False, "focus_session")
    assert config.replace(issuer=None).jwks_url is None  # no ConfigError: the JWKS URL went with its issuer
    assert config.replace(issuer="http://other.test").jwks_url == "http://other.test/.well-known/jwks.json"
    moved = config.replace(api_url="http://new.test")
    assert (moved.signin_url, moved.purchase_url, moved.signout_url) == (
        "http://new.test/signin", "http://new.test/billing", "http://new.test/signout")
    assert config.replace(app="audio-lab").app_name == "Audio Lab"
    # What was given stays given, and may be changed alongside.
    given = FocusConfig(public_origin="https://app.test", authorized_parties=("https://other.test",),
                        signin_url="https://login.test/in", app_name="Studio", app="video")
    kept = given.replace(public_origin=None, api_url="http://new.test", app="audio")
    assert (kept.authorized_parties, kept.signin_url, kept.app_name) == (("https://other.test",), "https://login.test/in",
                                                                          "Studio")
    assert config.replace(issuer=None, jwks_url=None) == config.replace(issuer=None)
    assert config.replace() == config


def test_clock_is_not_part_of_equality() -> None:
    assert FocusConfig(clock=FakeClock()) == FocusConfig()
    assert "clock" not in repr(FocusConfig())


# -- from the environment and from mappings ---------------------------------------------------------


def test_from_env_reads_focus_variables_with_types() -> None:
    env = {
        "FOCUS_API_URL": "http://localhost:8080/",
        "FOCUS_APP": "video",
        "FOCUS_ISSUER": "https://clerk.example",
        "FOCUS_AUTHORIZED_PARTIES": "https://a.example, https://b.example,",
        "FOCUS_TIMEOUT": " 2.5 ",
        "FOCUS_MAX_RETRIES": "4",
        "FOCUS_SESSION_MAX_AGE": "3600",
        "FOCUS_SOMETHING_ELSE": "owned by another tool",
        "PATH": "/usr/bin",
    }
    config = FocusConfig.from_env(env)
    assert config.api_url == "http://localhost:8080" and config.app == "video"
    assert config.issuer == "https://clerk.example"
    assert config.authorized_parties == ("https://a.example", "https://b.example")
    assert (config.timeout, config.max_retries, config.session_max_age) == (2.5, 4, 3600)


def test_from_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOCUS_APP", "from-env")
    monkeypatch.setenv("FOCUS_WALLET_TTL", "12")
    config = FocusConfig.from_env()
    assert config.app == "from-env" and config.wallet_ttl == 12.0


def test_from_env_with_a_prefix_and_overrides() -> None:
    clock = FakeClock()
    config = FocusConfig.from_env({"MYAPP_APP": "video", "FOCUS_APP": "ignored"}, prefix="MYAPP_", timeout=1.0, clock=clock)
    assert config.app == "video" and config.timeout == 1.0 and config.clock is clock


def test_empty_string_means_unset_for_optional_settings() -> None:
    config = FocusConfig.from_env({"FOCUS_ISSUER": "", "FOCUS_APP": ""})
    assert config.issuer is None and config.app is None


def test_from_env_invalid_values_name_the_setting() -> None:
    with pytest.raises(ConfigError) as info:
        FocusConfig.from_env({"FOCUS_TIMEOUT": "fast"})
    assert info.value.setting == "timeout"
    with pytest.raises(ConfigError) as info:
        FocusConfig.from_env({"FOCUS_MAX_RETRIES": "2.5"})
    assert info.value.setting == "max_retries"
    with pytest.raises(ConfigError) as info:
        FocusConfig.from_env({"FOCUS_API_URL": "nope"})
    assert info.value.setting == "api_url"


def test_from_mapping_takes_field_names_and_native_values() -> None:
    config = FocusConfig.from_mapping(
        {"app": "video", "timeout": 3, "authorized_parties": ["https://a.example"], "leeway": "2"},
        max_retries=0,
    )
    assert config.app == "video" and config.timeout == 3 and config.leeway == 2.0
    assert config.authorized_parties == ("https://a.example",) and config.max_retries == 0


def test_from_mapping_refuses_unknown_settings() -> None:
    with pytest.raises(ConfigError) as info:
        FocusConfig.from_mapping({"tiemout": 3})
    assert info.value.setting == "tiemout"


def test_settings_from_prefixed_strict_and_lenient() -> None:
    values = {"FOCUS_APP": "video", "FOCUS_TYPO": "x", "OTHER": "y"}
    assert settings_from_prefixed(values, strict=False) == {"app": "video"}
    with pytest.raises(ConfigError) as info:
        settings_from_prefixed(values)
    assert info.value.setting == "FOCUS_TYPO"
    assert settings_from_prefixed({"FOCUS_CLOCK": "x"}, strict=False) == {}


@pytest.mark.parametrize("setting", ["token_cache_size", "session_max_age"])
def test_sizes_and_ages_are_whole_numbers(setting: str) -> None:
    with pytest.raises(ConfigError, match=setting):
        FocusConfig(**{setting: 1.5})


def test_empty_authorized_parties_with_a_public_origin_is_refused() -> None:
    with pytest.raises(ConfigError, match="authorized_parties"):
        FocusConfig.from_env({"FOCUS_PUBLIC_ORIGIN": "https://app.example", "FOCUS_AUTHORIZED_PARTIES": ""})
