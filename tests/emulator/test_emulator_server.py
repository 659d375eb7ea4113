"""The emulator as a server: lifecycle, addresses, JSON errors for what is not routed."""

from __future__ import annotations

import time

import httpx
import pytest

from focus_middleware.testing import FocusEmulator


def test_serves_on_a_free_loopback_port_and_stops() -> None:
    with FocusEmulator() as emu:
        assert emu.url.startswith("http://127.0.0.1:")
        assert not emu.url.endswith("/")
        assert emu.issuer == emu.url
        assert emu.jwks_url == emu.url + "/.well-known/jwks.json"
        assert httpx.get(emu.jwks_url).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(emu.jwks_url)


def test_start_returns_quickly_and_ready() -> None:
    began = time.perf_counter()
    emu = FocusEmulator().start()
    started = time.perf_counter() - began
    try:
        assert httpx.get(emu.jwks_url).status_code == 200  # no retry: ready on return
    finally:
        emu.stop()
    assert started < 1.0  # typically ~0.05 s


def test_two_emulators_side_by_side_do_not_trust_each_other() -> None:
    with FocusEmulator() as one, FocusEmulator() as two:
        assert one.url != two.url
        token = one.create_user().session_jwt()
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(one.url + "/api/wallet", headers=headers).status_code == 200
        assert httpx.get(two.url + "/api/wallet", headers=headers).status_code == 401


def test_url_needs_a_started_emulator_and_starts_once() -> None:
    emu = FocusEmulator()
    with pytest.raises(RuntimeError):
        emu.url
    emu.start()
    try:
        with pytest.raises(RuntimeError):
            emu.start()
    finally:
        emu.stop()
    emu.stop()  # idempotent


def test_localhost_is_advertised_by_name() -> None:
    with FocusEmulator(host="localhost") as emu:
        assert emu.url.startswith("http://localhost:")
        assert httpx.get(emu.jwks_url).status_code == 200


def test_a_taken_port_is_an_oserror(focus_emulator: FocusEmulator) -> None:
    port = int(focus_emulator.url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        FocusEmulator(port=port).start()


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/nowhere", 404, "not_found"),
        ("DELETE", "/api/jobs", 405, "method_not_allowed"),
        ("POST", "/api/wallet", 405, "method_not_allowed"),
    ],
)
def test_unrouted_requests_get_json_errors(
    focus_emulator: FocusEmulator, method: str, path: str, status: int, error: str
) -> None:
    response = httpx.request(method, focus_emulator.url + path)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "message" in response.json()
