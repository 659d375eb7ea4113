"""The allow-list in isolation: what counts as a safe ``redirect_to`` and a trusted Origin."""

from __future__ import annotations

import pytest

from focus_middleware.testing.origins import Origins, RefusedRedirect, normalize_origin, with_query
from focus_middleware.testing.ratelimit import AttemptLimiter
from focus_middleware.clock import FakeClock

LOOPBACK = Origins.of()


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:8000/x?y=1#z", "http://127.0.0.1:8000"),
        ("http://localhost/", "http://localhost"),
        ("HTTP://LOCALHOST:3000", "http://localhost:3000"),
        ("http://[::1]:5173/app", "http://[::1]:5173"),
        ("https://127.0.0.1:443/", "https://127.0.0.1"),
    ],
)
def test_loopback_on_any_port_is_allowed(url: str, origin: str) -> None:
    assert LOOPBACK.check_redirect(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "//evil.example", "https:evil.example", "\\\\evil.example", "/\\evil.example",
        "javascript:alert(1)", "data:text/html,hi", "http://evil.example",
        "http://127.0.0.1@evil.example", "http://localhost.evil.example/", "http://127.0.0.2/",
        "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/", "http://127.1/", "file:///etc/passwd",
        "http://127.0.0.1:0x50/", "http://127.0.0.1\t/", "http://127.0.0.1/" + "a" * 2100,
    ],
)
def test_everything_else_is_refused(url: str) -> None:
    with pytest.raises(RefusedRedirect):
        LOOPBACK.check_redirect(url)


def test_extra_origins_are_exact() -> None:
    origins = Origins.of(["https://video.thefocus.ai", "HTTP://Demo.Test:8080/"])
    assert origins.check_redirect("https://video.thefocus.ai/x") == "https://video.thefocus.ai"
    assert origins.check_redirect("http://demo.test:8080/") == "http://demo.test:8080"
    for refused in ("http://video.thefocus.ai/", "https://video.thefocus.ai:8443/", "https://thefocus.ai/"):
        with pytest.raises(RefusedRedirect):
            origins.check_redirect(refused)
    assert origins.allows("https://video.thefocus.ai") and not origins.allows("https://x.thefocus.ai")
    assert not Origins.of(loopback=False).allows("http://127.0.0.1:8000")
    for bad in ("not an origin", "https://a.test/path", "ftp://a.test", "https://user@a.test"):
        with pytest.raises(ValueError):
            normalize_origin(bad)


def test_allows_never_trusts_odd_origins() -> None:
    for origin in (None, "", "null", "*", "http://127.0.0.1:8000/path", "http://user@127.0.0.1"):
        assert not LOOPBACK.allows(origin)


def test_with_query_keeps_the_query_and_fragment_and_replaces_the_name() -> None:
    assert with_query("http://a.test/p?x=1&token=old#f", token="new") == "http://a.test/p?x=1&token=new#f"
    assert with_query("http://a.test", token="t") == "http://a.test?token=t"


def test_the_attempt_limiter_slides_with_the_clock() -> None:
    clock = FakeClock()
    limiter = AttemptLimiter(clock, limit=2, window=60)
    limiter.fail(["a"])
    clock.advance(30)
    limiter.fail(["a", "b"])
    assert limiter.retry_after(["a"]) == 30 and limiter.retry_after(["b"]) is None
    assert limiter.retry_after(["b", "a"]) == 30
    clock.advance(30)
    assert limiter.retry_after(["a"]) is None  # the first failure left the window
    with pytest.raises(ValueError):
        AttemptLimiter(clock, limit=0)
