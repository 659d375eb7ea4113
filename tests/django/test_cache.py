"""DjangoCache: the core's shared-cache interface over Django's CACHES, alone, behind the
resolver in one process, and shared by real Django processes over a file-based cache."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches

from django_focus.cache import DjangoCache
from django_focus.testing import force_focus_login
from focus_middleware.cache import CacheBackend, CacheUnavailable
from focus_middleware.clock import FakeClock
from focus_middleware.config import ConfigError
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .conftest import API, focus_settings
from .settings import ORIGIN

ROOT = Path(__file__).resolve().parents[2]
BROKEN = {"BACKEND": "tests.django.broken_cache.BrokenCache"}


@pytest.fixture
def cache() -> DjangoCache:
    caches["default"].clear()
    return DjangoCache("default")


def test_it_is_the_cores_backend(cache: DjangoCache) -> None:
    assert isinstance(cache, CacheBackend)
    with pytest.raises(ConfigError, match="names no entry of CACHES"):
        DjangoCache("nope")


def test_get_set_delete_and_ttls(cache: DjangoCache) -> None:
    assert cache.get("k") is None
    cache.set("k", {"sub": "user_1", "exp": 1.5, "claims": {"a": [1, 2]}}, 30)
    assert cache.get("k") == {"sub": "user_1", "exp": 1.5, "claims": {"a": [1, 2]}}
    cache.set("k", {"v": 1}, 0)  # no TTL: dropped, never kept forever
    assert cache.get("k") is None
    cache.set("k", "x", 0.2)  # under a second: kept for one (memcached would read 0 as forever)
    assert cache.get("k") == "x"
    cache.delete("k")
    assert cache.get("k") is None


def test_the_lock_is_exclusive_and_only_its_holder_releases_it(cache: DjangoCache) -> None:
    first, second = cache.lock("job", 5), cache.lock("job", 5)
    assert first.acquire(blocking=False) and not second.acquire(blocking=False)
    assert not second.acquire(timeout=0.05)
    second.release()  # not held: must not free the first holder's lease
    assert not cache.lock("job", 5).acquire(blocking=False)
    released = threading.Timer(0.1, first.release)
    released.start()
    started = time.monotonic()
    with second as held:  # waits for the release
        assert held and time.monotonic() - started >= 0.05
    assert cache.lock("job", 5).acquire(blocking=False)


def test_a_lease_runs_out(cache: DjangoCache) -> None:
    holder = cache.lock("job", 1)
    assert holder.acquire(blocking=False)
    assert cache.lock("job", 1).acquire(timeout=2.5)  # a crashed holder never blocks past its ttl


@pytest.mark.anyio
async def test_the_async_face(cache: DjangoCache) -> None:
    face = cache.as_async()
    await face.set("k", [1, "two"], 30)
    assert await face.get("k") == [1, "two"] and cache.get("k") == [1, "two"]
    await face.delete("k")
    assert await face.get("k") is None
    lock, other = face.lock("j", 5), face.lock("j", 5)
    async with lock as held:
        assert held and not await other.acquire(blocking=False)
    assert await other.acquire(blocking=False)
    await other.release()


def test_a_backend_that_is_down_is_unavailable_and_says_nothing_secret(settings: Any) -> None:
    settings.CACHES = {**settings.CACHES, "broken": BROKEN}
    broken = DjangoCache("broken")
    for call in (lambda: broken.get("focus:v1:x"), lambda: broken.set("k", 1, 5), lambda: broken.delete("k"),
                 lambda: broken.lock("k", 1).acquire(blocking=False)):
        with pytest.raises(CacheUnavailable) as info:
            call()
        assert str(info.value) == "Django cache backend failed (ConnectionError)"


# -- behind the resolver -----------------------------------------------------------------------------


def test_lookups_land_in_the_django_cache_as_hashes(settings: Any, emu: FocusEmulator, clock: FakeClock,
                                                    client: Any, user: EmulatedUser) -> None:
    caches["default"].clear()
    settings.FOCUS = focus_settings(emu, clock, cache_alias="default")
    pat = force_focus_login(client, user, pat=True)
    assert client.get("/", headers=API).json()["clerk_id"] == user.clerk_id
    stored = caches["default"]._cache  # type: ignore[attr-defined]
    keys = [k for k in stored if "focus:v1:" in k]
    assert {k.split(":")[5] for k in keys} >= {"remote", "wallet"}
    assert all(pat not in k and pat.encode() not in stored[k] for k in keys)
    assert all(pat not in repr(pickle.loads(stored[k])) for k in keys)


def test_requests_go_on_when_the_shared_cache_is_down(settings: Any, emu: FocusEmulator, clock: FakeClock,
                                                      client: Any, user: EmulatedUser) -> None:
    settings.CACHES = {**settings.CACHES, "broken": BROKEN}
    settings.FOCUS = focus_settings(emu, clock, cache_alias="broken")
    force_focus_login(client, user, pat=True)
    assert client.get("/", headers=API).json()["clerk_id"] == user.clerk_id
    assert client.post("/api/render?cost=1", headers=API).status_code == 200 and user.credits == 9


# -- several processes ------------------------------------------------------------------------------


def run_worker(emu: FocusEmulator, cache_dir: Path, requests: list[list[str]]) -> list[dict[str, Any]]:
    focus = {"api_url": emu.url, "app": "video", "public_origin": ORIGIN, "cache_alias": "shared",
             "timeout": 5.0, "max_retries": 0}
    done = subprocess.run([sys.executable, "-m", "tests.django.worker", json.dumps(focus), str(cache_dir),
                           json.dumps(requests)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_two_django_processes_share_token_and_wallet_lookups(emu: FocusEmulator, tmp_path: Path) -> None:
    alice, bob = emu.create_user(credits=10), emu.create_user(credits=4)
    a, b = alice.pat(), bob.pat()
    first = run_worker(emu, tmp_path, [["GET", "/", a], ["GET", "/", a]])
    assert [r["body"]["clerk_id"] for r in first] == [alice.clerk_id] * 2
    assert emu.calls("GET /api/wallet", a) == 1
    second = run_worker(emu, tmp_path, [["GET", "/", a], ["GET", "/", b]])
    assert [r["body"]["clerk_id"] for r in second] == [alice.clerk_id, bob.clerk_id]
    assert emu.calls("GET /api/wallet", a) == 1  # the second process read the first one's answer
    assert emu.calls("GET /api/wallet", b) == 1
    # Credits moved in one process: the shared wallet entry is gone, the next process sees it.
    paid = run_worker(emu, tmp_path, [["POST", "/api/render?cost=3", a]])
    assert paid[0]["status"] == 200 and alice.credits == 7
    after = run_worker(emu, tmp_path, [["GET", "/", a]])
    assert after[0]["body"]["credits"] == 7
    assert emu.jobs(alice, status="started") == []
