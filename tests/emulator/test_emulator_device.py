"""The device-code flow over real HTTP: the API as the CLI and the device page use it, and
the page as a person does, with RFC 8628's answers checked one by one."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator
from focus_middleware.testing.device import normalize_user_code

from emulator_browser import Browser

USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")
APP = "http://127.0.0.1:8000"


class Device:
    """The CLI's side and the approving person's side of the flow, over HTTP."""

    def __init__(self, emu: FocusEmulator, client: httpx.Client) -> None:
        self.emu = emu
        self.client = client

    def start(self, **body: Any) -> dict[str, Any]:
        response = self.client.post("/api/device/start", json=body or None)
        assert response.status_code == 200, response.text
        started: dict[str, Any] = response.json()
        return started

    def poll(self, device_code: str) -> httpx.Response:
        return self.client.get("/api/device/poll", params={"device_code": device_code})

    def answer(self, device_code: str) -> str:
        response = self.poll(device_code)
        if response.status_code == 200:
            return "token"
        if response.status_code == 202:
            return "pending"
        assert response.status_code == 400, response.text
        error: str = response.json()["error"]
        return error

    def complete(self, user_code: str, token: str | None, approve: bool | None = None, **kw: Any) -> httpx.Response:
        body: dict[str, Any] = {"user_code": user_code}
        if approve is not None:
            body["approve"] = approve
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return self.client.post("/api/device/complete", json=body, headers=headers, **kw)


@pytest.fixture
def device(fake_emulator: FocusEmulator) -> Iterator[Device]:
    with httpx.Client(base_url=fake_emulator.url, timeout=10) as client:
        yield Device(fake_emulator, client)


@pytest.fixture
def person(fake_emulator: FocusEmulator) -> EmulatedUser:
    return fake_emulator.create_user(credits=10)


# -- the API --------------------------------------------------------------------------------


def test_start_answers_rfc_8628_fields(device: Device, fake_emulator: FocusEmulator) -> None:
    started = device.start()
    assert USER_CODE.match(started["user_code"])
    assert len(started["device_code"]) >= 43  # token_urlsafe(32)
    assert started["verification_uri"] == fake_emulator.url + "/device"
    assert started["verification_uri_complete"] == (
        f"{fake_emulator.url}/device?user_code={started['user_code']}"
    )
    assert (started["expires_in"], started["interval"]) == (900, 5)
    assert device.start()["user_code"] != started["user_code"]


def test_approve_hands_out_the_pat_exactly_once(
    device: Device, person: EmulatedUser, clock: FakeClock
) -> None:
    started = device.start()
    assert device.poll(started["device_code"]).status_code == 202
    done = device.complete(started["user_code"], person.session_jwt())
    assert done.status_code == 200 and done.json() == {"ok": True}
    clock.advance(5)
    granted = device.poll(started["device_code"])
    assert granted.status_code == 200 and granted.headers["cache-control"] == "no-store"
    pat = granted.json()["token"]
    wallet = device.client.get("/api/wallet", headers={"Authorization": f"Bearer {pat}"})
    assert wallet.json()["account"]["clerk_id"] == person.clerk_id
    for _ in range(2):  # redeemed: never again, however it is asked
        clock.advance(5)
        assert device.answer(started["device_code"]) == "invalid_grant"
    clock.advance(3600)
    assert device.answer(started["device_code"]) == "invalid_grant"


def test_a_decided_code_answers_at_once_however_fast_it_is_polled(
    device: Device, person: EmulatedUser
) -> None:
    started = device.start()
    assert device.answer(started["device_code"]) == "pending"
    device.complete(started["user_code"], person.session_jwt())
    assert device.answer(started["device_code"]) == "token"  # no slow_down for a decided code


def test_deny_answers_access_denied(device: Device, person: EmulatedUser, clock: FakeClock) -> None:
    started = device.start()
    assert device.complete(started["user_code"], person.session_jwt(), approve=False).json() == {"ok": True}
    for _ in range(2):
        assert device.answer(started["device_code"]) == "access_denied"
        clock.advance(5)
    again = device.complete(started["user_code"], person.session_jwt())  # decided once
    assert again.status_code == 400 and again.json()["error"] == "invalid_user_code"


def test_codes_expire_after_expires_in(device: Device, person: EmulatedUser, clock: FakeClock) -> None:
    started = device.start()
    clock.advance(899)
    assert device.answer(started["device_code"]) == "pending"
    clock.advance(1)
    assert device.answer(started["device_code"]) == "expired_token"
    late = device.complete(started["user_code"], person.session_jwt())
    assert late.status_code == 400 and late.json()["error"] == "invalid_user_code"
    approved = device.start()
    device.complete(approved["user_code"], person.session_jwt())
    clock.advance(900)  # approved but never collected in time
    assert device.answer(approved["device_code"]) == "expired_token"


def test_unknown_or_missing_device_codes(device: Device) -> None:
    assert device.answer("never-issued") == "expired_token"
    missing = device.client.get("/api/device/poll")
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def test_slow_down_grows_the_interval_by_5_seconds_each_time(
    device: Device, clock: FakeClock
) -> None:
    code = device.start()["device_code"]
    assert device.answer(code) == "pending"
    clock.advance(4)
    assert device.answer(code) == "slow_down"  # interval 5 -> 10
    clock.advance(6)
    assert device.answer(code) == "slow_down"  # 6 < 10: interval -> 15
    clock.advance(15)
    assert device.answer(code) == "pending"
    clock.advance(15)
    assert device.answer(code) == "pending"  # the new interval holds


def test_interval_and_expiry_are_configurable(clock: FakeClock) -> None:
    with FocusEmulator(clock=clock, device_interval=0, device_expires_in=30) as emu:
        with httpx.Client(base_url=emu.url) as client:
            d = Device(emu, client)
            started = d.start()
            assert (started["interval"], started["expires_in"]) == (0, 30)
            assert [d.answer(started["device_code"]) for _ in range(3)] == ["pending"] * 3
            clock.advance(30)
            assert d.answer(started["device_code"]) == "expired_token"


def test_user_codes_are_normalised(device: Device, person: EmulatedUser) -> None:
    started = device.start()
    typed = started["user_code"].replace("-", " ").lower()
    assert device.complete(typed, person.session_jwt()).status_code == 200
    assert normalize_user_code(" bcdf-ghjk ") == "BCDFGHJK"
    assert normalize_user_code("BCDFGHJ") is None and normalize_user_code("ABCDEFGH") is None


def test_the_person_who_approves_gets_the_pat(
    device: Device, fake_emulator: FocusEmulator
) -> None:
    started = device.start()
    other = fake_emulator.create_user()
    device.complete(started["user_code"], other.session_jwt())
    pat = device.poll(started["device_code"]).json()["token"]
    me = device.client.get("/api/wallet", headers={"Authorization": f"Bearer {pat}"}).json()
    assert me["account"]["clerk_id"] == other.clerk_id


def test_approval_needs_a_session_not_a_pat(device: Device, person: EmulatedUser) -> None:
    started = device.start()
    for token in (None, person.pat(), "garbage"):
        refused = device.complete(started["user_code"], token)
        assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    assert device.answer(started["device_code"]) == "pending"


def test_cookie_approval_only_from_the_emulators_own_origin(
    device: Device, person: EmulatedUser, fake_emulator: FocusEmulator
) -> None:
    started = device.start()
    cookie = f"focus_emulator_signin={person.signin_cookie()}"
    foreign = device.client.post(
        "/api/device/complete", json={"user_code": started["user_code"]},
        headers={"Origin": APP, "Cookie": cookie},
    )
    assert foreign.status_code == 403
    own = device.client.post(
        "/api/device/complete", json={"user_code": started["user_code"]},
        headers={"Origin": fake_emulator.url, "Cookie": cookie},
    )
    assert own.status_code == 200


def test_device_codes_are_stored_hashed(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    with FocusEmulator(db=db) as emu, httpx.Client(base_url=emu.url) as client:
        started = Device(emu, client).start()
    rows = sqlite3.connect(db).execute("SELECT * FROM device_codes").fetchall()
    assert started["device_code"] not in repr(rows)
    assert started["user_code"].replace("-", "") in repr(rows)


def test_start_takes_an_optional_client_name(device: Device) -> None:
    assert device.start(client_name="render-cli on laptop")["user_code"]
    bad = device.client.post("/api/device/start", json={"client_name": 5})
    assert bad.status_code == 400
    assert device.client.post("/api/device/start", content=b"not json").status_code == 400


# -- wrong codes are rate-limited ------------------------------------------------------------


def test_wrong_codes_are_limited_per_session_then_released_by_the_clock(
    device: Device, person: EmulatedUser, clock: FakeClock
) -> None:
    started = device.start()
    jwt = person.session_jwt(lifetime=3600)
    for guess in ("BBBB-BBBB", "CCCC-CCCC", "not a code", "DDDD-DDDD", "FFFF-FFFF"):
        wrong = device.complete(guess, jwt)
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_user_code"
    limited = device.complete(started["user_code"], jwt)  # even the right one, for now
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    clock.advance(int(limited.headers["retry-after"]))
    assert device.complete(started["user_code"], jwt).status_code == 200


def test_wrong_codes_are_limited_per_address_and_per_session(
    fake_emulator: FocusEmulator, device: Device, person: EmulatedUser
) -> None:
    jwt = person.session_jwt(lifetime=3600)
    for _ in range(5):
        assert device.complete("BBBB-BBBB", jwt).status_code == 400
    other = fake_emulator.create_user().session_jwt(lifetime=3600)
    assert device.complete("BBBB-BBBB", other).status_code == 429  # same address
    elsewhere = httpx.Client(
        base_url=fake_emulator.url, transport=httpx.HTTPTransport(local_address="127.0.0.2")
    )
    with elsewhere:
        moved = Device(fake_emulator, elsewhere)
        assert moved.complete("BBBB-BBBB", jwt).status_code == 429  # same session
        assert moved.complete("BBBB-BBBB", other).status_code == 400  # neither


# -- the device page ---------------------------------------------------------------------------


def signed_in_browser(emu: FocusEmulator, email: str) -> Browser:
    browser = Browser(emu)
    browser.sign_in(APP, email=email)
    return browser


def test_the_page_walk_approve(fake_emulator: FocusEmulator, device: Device) -> None:
    started = device.start(client_name="<b>render-cli</b>")
    browser = Browser(fake_emulator)
    first = browser.get("/device")
    assert first.status_code == 303
    assert first.headers["location"].startswith(fake_emulator.url + "/signin?redirect_to=")
    signin = browser.follow(first)
    back = browser.click(signin, "sign-in", email="walk@example.test", name="Walker")
    # The emulator's own page knows the browser by its sign-in cookie: no token in its URL.
    assert back.headers["location"] == fake_emulator.url + "/device"
    entry = browser.follow(back)
    assert entry.status_code == 200 and 'id="user_code"' in entry.text and "Walker" in entry.text
    confirm = browser.click(entry, "continue", user_code=started["user_code"].lower())
    assert confirm.status_code == 200
    assert f'id="code">{started["user_code"]}<' in confirm.text  # what is approved, shown
    assert "&lt;b&gt;render-cli&lt;/b&gt;" in confirm.text and "<b>render-cli" not in confirm.text
    assert "127.0.0.1" in confirm.text
    done = browser.click(confirm, "approve")
    assert done.status_code == 200 and 'id="approved"' in done.text
    pat = device.poll(started["device_code"]).json()["token"]
    wallet = device.client.get("/api/wallet", headers={"Authorization": f"Bearer {pat}"}).json()
    user = fake_emulator.find_user(wallet["account"]["clerk_id"])
    assert user is not None and user.email == "walk@example.test"
    browser.close()


def test_the_page_walk_deny(fake_emulator: FocusEmulator, device: Device) -> None:
    started = device.start()
    browser = signed_in_browser(fake_emulator, "deny@example.test")
    confirm = browser.get("/device", user_code=started["user_code"])
    done = browser.click(confirm, "deny")
    assert 'id="denied"' in done.text
    assert device.answer(started["device_code"]) == "access_denied"
    browser.close()


def test_verification_uri_complete_prefills_through_sign_in(
    fake_emulator: FocusEmulator, device: Device
) -> None:
    started = device.start()
    browser = Browser(fake_emulator)
    first = browser.client.get(started["verification_uri_complete"])
    signin = browser.follow(first)
    back = browser.click(signin, "sign-in", email="pre@example.test")
    confirm = browser.follow(back)
    assert confirm.status_code == 200 and 'id="approve"' in confirm.text
    # Back to the emulator's own page, which knows the browser by its sign-in cookie: the
    # code stays in the URL, a session token does not (issue 25: it sat in the address bar).
    assert back.headers["location"] == started["verification_uri_complete"]
    assert "token=" not in back.headers["location"]
    browser.close()


def test_the_decision_form_needs_its_csrf_token(fake_emulator: FocusEmulator, device: Device) -> None:
    started = device.start()
    browser = signed_in_browser(fake_emulator, "csrf@example.test")
    confirm = browser.get("/device", user_code=started["user_code"])
    forged = {"user_code": started["user_code"], "decision": "approve", "csrf": "x" * 43}
    assert browser.client.post("/device", data=forged).status_code == 403
    assert browser.click(confirm, "approve", headers={"Origin": APP}).status_code == 403
    assert device.answer(started["device_code"]) == "pending"
    browser.close()


def test_wrong_codes_on_the_page_show_why_then_are_limited(
    fake_emulator: FocusEmulator, clock: FakeClock, device: Device
) -> None:
    started = device.start()
    browser = signed_in_browser(fake_emulator, "typo@example.test")
    for _ in range(5):
        wrong = browser.get("/device", user_code="BBBB-BBBB")
        assert wrong.status_code == 400 and 'id="error"' in wrong.text
        assert 'value="BBBB-BBBB"' in wrong.text  # kept for correcting
    limited = browser.get("/device", user_code=started["user_code"])
    assert limited.status_code == 429 and "Too many wrong codes" in limited.text
    assert int(limited.headers["retry-after"]) <= 60
    clock.advance(60)
    assert browser.get("/device", user_code=started["user_code"]).status_code == 200
    browser.close()


def test_an_expired_code_on_the_page(fake_emulator: FocusEmulator, clock: FakeClock, device: Device) -> None:
    started = device.start()
    browser = signed_in_browser(fake_emulator, "late@example.test")
    confirm = browser.get("/device", user_code=started["user_code"])
    clock.advance(901)
    late = browser.click(confirm, "approve")
    assert late.status_code == 400 and "expired" in late.text
    browser.close()
