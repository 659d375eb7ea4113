"""One configuration object for the core, every adapter and the CLI.

Every setting has one name: the field name here (Django's ``FOCUS = {...}`` keys), and
``FOCUS_<FIELD>`` in the environment and in Flask's ``app.config``. A bad value fails at
construction with a message that names the setting, not at the first request.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from focus_middleware.clock import SYSTEM_CLOCK, Clock

DEFAULT_API_URL = "https://account.thefocus.ai"
_APP_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$")


class ConfigError(ValueError):
    """A setting has an invalid value; the message names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting


def _origin_of(url: str, setting: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(setting, f"must be an absolute http(s) URL, got {url!r}")
    if parts.username or parts.password:
        raise ConfigError(setting, "must not carry credentials")
    return f"{parts.scheme}://{parts.netloc}".lower()


def _strip_slash(url: str) -> str:
    return url[:-1] if url.endswith("/") else url


_DERIVED = ("jwks_url", "authorized_parties", "signin_url", "purchase_url", "signout_url", "app_name", "session_cookie")
"""The settings :class:`FocusConfig` works out from others when they are left unset."""


def _app_name(name: str | None, slug: str | None) -> str:
    """The name pages call the app: given, else its slug in words, else "this app"."""
    if name is not None:
        if not isinstance(name, str) or not name.strip() or len(name) > 80:
            raise ConfigError("app_name", "must be a name of 1 to 80 characters")
        return name.strip()
    if slug:
        return " ".join(word.capitalize() for word in re.split(r"[-_]+", slug) if word)
    return "this app"


@dataclass(frozen=True, kw_only=True)
class FocusConfig:
    """Settings of a Focus-enabled app; see the README's configuration reference.

    Derived settings (JWKS URL, authorized parties, sign-in and purchase URLs, cookie
    name) are filled in at construction, so the rest of the code reads one resolved value.
    """

    # The service.
    api_url: str = DEFAULT_API_URL
    app: str | None = None

    # Verifying session JWTs locally. Without an issuer, JWTs are checked remotely.
    issuer: str | None = None
    jwks_url: str | None = None
    jwt_public_key: str | None = None
    authorized_parties: tuple[str, ...] | None = None
    # A token minted on the sign-in site carries that site's origin as azp (Clerk stamps the
    # Origin of the page that asked for it). Accepted on the browser's own sign-in path;
    # as a bearer only with this (any other app on Focus could hold such a token).
    allow_signin_azp_bearer: bool = False
    # For a service that mints session tokens server-side, without azp: accepted on the
    # browser's sign-in path (return trip, refresh, the cookies they set), never as a bearer.
    allow_missing_azp: bool = False
    leeway: float = 5.0
    min_token_life: float = 30.0

    # Where this app is reachable, for every URL it emits.
    public_origin: str | None = None
    trusted_proxies: tuple[str, ...] = ()

    # Refusal targets (defaults derive from api_url). Sign-out of Focus itself (the
    # signed-out page's "Sign out of Focus too"): {api_url}/signout, an assumption.
    signin_url: str | None = None
    purchase_url: str | None = None
    signout_url: str | None = None
    # The billing page's parameter for how many more credits the person needs, if it takes
    # one (the emulator's takes "need"; the real one's is not known: None, not sent).
    purchase_need_param: str | None = None

    # What people read. The name pages call this app (default: the slug title-cased,
    # "video-studio" → "Video Studio", else "this app"). The JWT claims a person's name and
    # email are read from, first present wins: Clerk's default claims carry neither, a
    # custom session token template adds them (Clerk's own example names them fullName
    # and primaryEmail).
    app_name: str | None = None
    name_claims: tuple[str, ...] = ("name", "fullName", "full_name")
    email_claims: tuple[str, ...] = ("email", "primaryEmail", "primary_email")

    # Browser sessions.
    session_cookie: str | None = None
    clerk_cookie_suffix: str | None = None
    session_max_age: int = 7 * 24 * 3600
    state_cookie_max_age: int = 600
    max_bounces: int = 3

    # Network.
    timeout: float = 5.0
    settle_timeout: float = 10.0
    max_retries: int = 2
    # At shutdown: how long to wait for settlements under way, jobs in flight and kept
    # settlements; and whether to catch SIGTERM/SIGINT (over the default handlers only)
    # on servers that run no shutdown hook, to drain before the process ends.
    shutdown_timeout: float = 10.0
    handle_signals: bool = True

    # Paid actions: how long an Idempotency-Key is remembered (a repeat within it never
    # charges again).
    idempotency_window: float = 24 * 3600.0

    # Caches.
    # A URL may carry a password: kept out of the repr.
    cache_url: str | None = field(default=None, repr=False)
    token_cache_size: int = 10_000
    wallet_cache_size: int = 10_000
    pat_ttl: float = 60.0
    negative_ttl: float = 5.0
    wallet_ttl: float = 30.0
    stale_if_error: float = 60.0
    jwks_ttl: float = 3600.0
    jwks_refresh_cooldown: float = 30.0
    jwks_stale_window: float = 6 * 3600.0
    remote_checks_per_second: float = 50.0
    # Each client address's own share of it (IPv6 by /64), so one flood turns no one else away.
    remote_checks_per_client: float = 5.0
    # With a shared cache (cache_url or cache_backend): how long an entry read from it stays
    # in the in-process first level (never longer than the entry itself), and the lease of
    # the cross-process lock that lets one process fetch while the others wait.
    cache_backend: Any = field(default=None, compare=False, repr=False)
    l1_ttl: float = 5.0
    cache_lock_ttl: float = 3.0

    clock: Clock = field(default=SYSTEM_CLOCK, compare=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        # Left unset, these are worked out from others below; replace() works them out again.
        set_(self, "_derived", frozenset(name for name in _DERIVED if getattr(self, name) is None))
        api_url = _strip_slash(self.api_url)
        _origin_of(api_url, "api_url")
        set_(self, "api_url", api_url)
        if self.app is not None and not _APP_SLUG.match(self.app):
            raise ConfigError("app", "must be a slug of lowercase letters, digits, '-' and '_'")
        if self.issuer is not None:
            issuer = _strip_slash(self.issuer)
            _origin_of(issuer, "issuer")
            set_(self, "issuer", issuer)
            if self.jwks_url is None and self.jwt_public_key is None:
                set_(self, "jwks_url", issuer + "/.well-known/jwks.json")
        if self.jwks_url is not None:
            _origin_of(self.jwks_url, "jwks_url")
        if self.jwt_public_key is not None and "PUBLIC KEY" not in self.jwt_public_key:
            raise ConfigError("jwt_public_key", "must be a PEM-encoded public key")
        if (self.jwks_url or self.jwt_public_key) and self.issuer is None:
            raise ConfigError("issuer", "is required when jwks_url or jwt_public_key is set")
        public_origin = None
        if self.public_origin is not None:
            public_origin = _origin_of(self.public_origin, "public_origin")
            if urlsplit(self.public_origin).path not in ("", "/"):
                raise ConfigError("public_origin", "is an origin (scheme://host[:port]), not a URL with a path")
            set_(self, "public_origin", public_origin)
        if self.authorized_parties is None:
            set_(self, "authorized_parties", (public_origin,) if public_origin else ())
        else:
            parties = tuple(_origin_of(p, "authorized_parties") for p in self.authorized_parties)
            if not parties and public_origin:
                # An empty list would silently stop checking azp; say so instead.
                raise ConfigError("authorized_parties", "is empty; leave it unset to default to public_origin")
            set_(self, "authorized_parties", parties)
        set_(self, "trusted_proxies", tuple(self.trusted_proxies))
        set_(self, "signin_url", _strip_slash(self.signin_url or api_url + "/signin"))
        set_(self, "purchase_url", _strip_slash(self.purchase_url or api_url + "/billing"))
        _origin_of(self.signin_url or "", "signin_url")
        _origin_of(self.purchase_url or "", "purchase_url")
        set_(self, "signout_url", _strip_slash(self.signout_url or api_url + "/signout"))
        _origin_of(self.signout_url or "", "signout_url")
        set_(self, "app_name", _app_name(self.app_name, self.app))
        for claims in ("name_claims", "email_claims"):
            names = tuple(getattr(self, claims))
            if not all(isinstance(n, str) and n for n in names):
                raise ConfigError(claims, "must be claim names (non-empty strings)")
            set_(self, claims, names)
        if self.session_cookie is None:
            secure = public_origin is not None and public_origin.startswith("https:")
            set_(self, "session_cookie", "__Host-focus_session" if secure else "focus_session")
        elif not _COOKIE_NAME.match(self.session_cookie) or self.session_cookie.startswith("__session"):
            raise ConfigError("session_cookie", "must be a cookie token, and not Clerk's __session")
        if self.clerk_cookie_suffix is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", self.clerk_cookie_suffix):
            raise ConfigError("clerk_cookie_suffix", "must be letters, digits, '-' or '_'")
        for name in ("allow_signin_azp_bearer", "allow_missing_azp", "handle_signals"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(name, f"must be True or False, got {getattr(self, name)!r}")
        self._check_numbers()
        self._check_shared_cache()

    def _check_numbers(self) -> None:
        non_negative = ("leeway", "min_token_life", "negative_ttl", "stale_if_error", "jwks_refresh_cooldown", "jwks_stale_window")
        positive = ("timeout", "settle_timeout", "shutdown_timeout", "idempotency_window", "pat_ttl", "wallet_ttl", "jwks_ttl", "remote_checks_per_second",
                    "remote_checks_per_client")
        for name in non_negative + positive:
            value = getattr(self, name)
            # NaN passes every comparison and infinity makes tokens or entries immortal.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(name, f"must be a finite number, got {value!r}")
            if value < 0 or (name in positive and value == 0):
                raise ConfigError(name, f"must be a number {'> 0' if name in positive else '>= 0'}, got {value!r}")
        whole = {"max_retries": 0, "max_bounces": 0, "token_cache_size": 1, "wallet_cache_size": 1,
                 "session_max_age": 1, "state_cookie_max_age": 1}
        for name, minimum in whole.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigError(name, f"must be a whole number >= {minimum}, got {value!r}")

    def _check_shared_cache(self) -> None:
        for name in ("l1_ttl", "cache_lock_ttl"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ConfigError(name, f"must be a finite number > 0, got {value!r}")
        if self.cache_url is not None:
            parts = urlsplit(self.cache_url)
            if parts.scheme not in ("redis", "rediss", "unix") or not (parts.netloc or parts.path):
                # The value itself may hold a password: not echoed.
                raise ConfigError("cache_url", "must be a redis://, rediss:// or unix:// URL")
        if isinstance(self.cache_backend, str):
            raise ConfigError("cache_backend", "is a backend object; give a URL as cache_url")
        if self.cache_url is not None and self.cache_backend is not None:
            raise ConfigError("cache_backend", "and cache_url are both set; choose one")

    @property
    def shared_cache(self) -> bool:
        """Whether a shared second-level cache is configured."""
        return self.cache_url is not None or self.cache_backend is not None

    # -- construction from strings (environment, Flask config) -------------------------

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], **overrides: Any) -> FocusConfig:
        """Build from field names to values; strings are converted to each field's type.

        Unknown names fail loudly: a misspelt setting is a bug, not something to ignore.
        """
        known = {f.name: f for f in dataclasses.fields(cls) if f.name != "clock"}
        kwargs: dict[str, Any] = {}
        for name, raw in {**values, **overrides}.items():
            if name == "clock":
                kwargs[name] = raw
                continue
            if name not in known:
                raise ConfigError(name, "is not a Focus setting")
            kwargs[name] = _coerce(name, known[name].type, raw)
        return cls(**kwargs)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, prefix: str = "FOCUS_", **overrides: Any) -> FocusConfig:
        """Read every ``FOCUS_<FIELD>`` variable (``FOCUS_API_URL``, ``FOCUS_APP``, ...)."""
        env = os.environ if environ is None else environ
        return cls.from_mapping(settings_from_prefixed(env, prefix, strict=False), **overrides)

    def replace(self, **changes: Any) -> FocusConfig:
        """A copy with ``changes``. What was derived from other settings is derived again
        from the new ones, not copied: ``replace(public_origin=None)`` checks no ``azp``,
        ``replace(issuer=None)`` needs no ``jwks_url=None`` beside it, ``replace(api_url=...)``
        signs in at the new service."""
        derived: frozenset[str] = self.__dict__["_derived"]  # set in __post_init__: not a setting
        return dataclasses.replace(self, **{**dict.fromkeys(derived), **changes})

    @property
    def verifies_locally(self) -> bool:
        return self.issuer is not None

    @functools.cached_property
    def signin_origin(self) -> str:
        """The sign-in site's origin: the ``azp`` of tokens minted there."""
        return _origin_of(self.signin_url or "", "signin_url")

    @property
    def checks_azp(self) -> bool:
        """Whether ``azp`` is checked at all (it is not without ``public_origin`` or
        ``authorized_parties``: then any app's token for this Focus is accepted)."""
        return bool(self.authorized_parties)


def settings_from_prefixed(values: Mapping[str, Any], prefix: str = "FOCUS_", *, strict: bool = True) -> dict[str, Any]:
    """``{"FOCUS_API_URL": ...}`` → ``{"api_url": ...}`` for every prefixed key.

    Strict (Flask's app.config) refuses unknown ``FOCUS_`` keys; the process environment
    is not strict, since other tools may own variables under the same prefix.
    """
    known = {f.name for f in dataclasses.fields(FocusConfig) if f.name != "clock"}
    out: dict[str, Any] = {}
    for key, value in values.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix):].lower()
        if name in known:
            out[name] = value
        elif strict:
            raise ConfigError(key, "is not a Focus setting")
    return out


def _coerce(name: str, annotation: Any, raw: Any) -> Any:
    if not isinstance(raw, str):
        if "tuple" in str(annotation) and isinstance(raw, (list, tuple)):
            return tuple(raw)
        return raw
    text = str(annotation)
    value = raw.strip()
    if text == "bool":
        flag = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
        if value.lower() not in flag:
            raise ConfigError(name, f"expected true or false, got {raw!r}")
        return flag[value.lower()]
    try:
        if "tuple" in text:
            return tuple(item.strip() for item in value.split(",") if item.strip())
        if text.startswith("float"):
            return float(value)
        if text.startswith("int"):
            return int(value)
        if "None" in text and value == "":
            return None
    except ValueError:
        raise ConfigError(name, f"expected a number, got {raw!r}") from None
    return value
