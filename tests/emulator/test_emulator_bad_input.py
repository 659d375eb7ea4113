"""Bad input gets a 4xx with a JSON error, never a 500, and never moves a credit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from focus_middleware.testing import EmulatedUser, FocusEmulator

if TYPE_CHECKING:
    from conftest import Api

TOO_BIG = 64 * 1024 + 1


@pytest.fixture
def focus_emulator(focus_emulator_session: FocusEmulator) -> FocusEmulator:
    """One emulator for this module's many cases; each test still gets its own user."""
    return focus_emulator_session


@pytest.fixture
def books(focus_emulator: FocusEmulator, focus_user: EmulatedUser) -> Iterator[None]:
    """Assert that the test leaves the user's balance, ledger and jobs as they were."""
    before = (focus_user.credits, focus_emulator.ledger(focus_user), focus_emulator.jobs(focus_user))
    yield
    after = (focus_user.credits, focus_emulator.ledger(focus_user), focus_emulator.jobs(focus_user))
    assert after == before
    focus_emulator.check_books()


@pytest.fixture
def started(api: Api, pat: str) -> str:
    """A job reserved before the books are snapshot, to aim settlements at."""
    return api.start(pat, cost=10)


def assert_refused(response: httpx.Response, status: int, error: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error"], str) and isinstance(body["message"], str)
    if error is not None:
        assert body["error"] == error


GOOD_JOB: dict[str, Any] = {"app": "video", "action": "render", "cost_estimate": 5}
BAD_JOBS = {
    "missing app": {k: v for k, v in GOOD_JOB.items() if k != "app"},
    "missing action": {k: v for k, v in GOOD_JOB.items() if k != "action"},
    "missing cost": {k: v for k, v in GOOD_JOB.items() if k != "cost_estimate"},
    "null cost": {**GOOD_JOB, "cost_estimate": None},
    "bool cost": {**GOOD_JOB, "cost_estimate": True},
    "string cost": {**GOOD_JOB, "cost_estimate": "5"},
    "float cost": {**GOOD_JOB, "cost_estimate": 5.0},
    "fractional cost": {**GOOD_JOB, "cost_estimate": 2.5},
    "negative cost": {**GOOD_JOB, "cost_estimate": -1},
    "huge cost": {**GOOD_JOB, "cost_estimate": 1_000_001},
    "enormous cost": {**GOOD_JOB, "cost_estimate": 10**30},
    "list cost": {**GOOD_JOB, "cost_estimate": [5]},
    "numeric app": {**GOOD_JOB, "app": 5},
    "bad slug": {**GOOD_JOB, "app": "../etc"},
    "empty action": {**GOOD_JOB, "action": ""},
    "long action": {**GOOD_JOB, "action": "x" * 201},
    "numeric action": {**GOOD_JOB, "action": 7},
    "metadata list": {**GOOD_JOB, "metadata": ["a"]},
    "metadata string": {**GOOD_JOB, "metadata": "a"},
}


@pytest.mark.parametrize("body", BAD_JOBS.values(), ids=BAD_JOBS.keys())
def test_bad_job_bodies_are_400(api: Api, pat: str, books: None, body: dict[str, Any]) -> None:
    assert_refused(api.client.post("/api/jobs", json=body, headers=api.auth(pat)), 400, "invalid_request")


RAW_BODIES = {
    "malformed": b'{"app": "video",',
    "empty": b"",
    "array": b"[1, 2]",
    "string": b'"job"',
    "nan": b'{"app": "video", "action": "a", "cost_estimate": NaN}',
    "infinity": b'{"app": "video", "action": "a", "cost_estimate": 1e400}',
    "too many digits": b'{"app": "video", "action": "a", "cost_estimate": ' + b"9" * 5000 + b"}",
    "deep nesting": b'{"metadata": ' + b"[" * 30000 + b"]" * 30000 + b"}",
    "not utf-8": b'{"app": "\xff\xfe"}',
}


@pytest.mark.parametrize("raw", RAW_BODIES.values(), ids=RAW_BODIES.keys())
@pytest.mark.parametrize("path", ["/api/jobs", "/api/jobs/complete", "/api/jobs/fail"])
def test_unparseable_bodies_are_400(api: Api, pat: str, books: None, path: str, raw: bytes) -> None:
    response = api.client.post(path, content=raw, headers={**api.auth(pat), "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"] in ("invalid_json", "invalid_request")


@pytest.mark.parametrize("path", ["/api/jobs", "/api/jobs/complete", "/api/jobs/fail"])
def test_oversized_bodies_are_413_by_declared_length(api: Api, pat: str, books: None, path: str) -> None:
    body = b'{"pad": "' + b"x" * TOO_BIG + b'"}'
    assert_refused(api.client.post(path, content=body, headers=api.auth(pat)), 413, "payload_too_large")


@pytest.mark.parametrize("path", ["/api/jobs", "/api/jobs/complete", "/api/jobs/fail"])
def test_oversized_bodies_are_413_when_streamed(api: Api, pat: str, books: None, path: str) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield b'{"pad": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    response = api.client.post(path, content=chunks(), headers=api.auth(pat))
    assert_refused(response, 413, "payload_too_large")


def test_a_bad_content_length_is_refused(focus_emulator: FocusEmulator, pat: str, books: None) -> None:
    # httpx would correct the header, so speak HTTP by hand.
    import socket

    port = int(focus_emulator.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n"
            b"Authorization: Bearer " + pat.encode() + b"\r\n\r\n{}"
        )
        head = sock.recv(65536).split(b"\r\n", 1)[0]
    assert b" 413 " in head


def test_oversized_metadata_is_413(api: Api, pat: str, started: str, books: None) -> None:
    big = {"blob": "x" * 17_000}
    assert_refused(api.create_job(pat, metadata=big), 413, "payload_too_large")
    assert_refused(api.complete(pat, started, 1, metadata=big), 413, "payload_too_large")


MISSING = object()
SETTLE_BODIES = {
    "missing job_id": {"job_id": MISSING},
    "numeric job_id": {"job_id": 5},
    "empty job_id": {"job_id": ""},
    "missing actual_cost": {"actual_cost": MISSING},
    "null actual_cost": {"actual_cost": None},
    "bool actual_cost": {"actual_cost": False},
    "negative actual_cost": {"actual_cost": -3},
    "float actual_cost": {"actual_cost": 1.5},
    "huge actual_cost": {"actual_cost": 1_000_001},
    "metadata list": {"metadata": [1]},
}


@pytest.mark.parametrize("change", SETTLE_BODIES.values(), ids=SETTLE_BODIES.keys())
def test_bad_completions_are_400(api: Api, pat: str, started: str, books: None, change: dict[str, Any]) -> None:
    body = {"job_id": started, "actual_cost": 1, **change}
    body = {k: v for k, v in body.items() if v is not MISSING}
    response = api.client.post("/api/jobs/complete", json=body, headers=api.auth(pat))
    assert_refused(response, 400, "invalid_request")


def test_a_fail_without_job_id_is_400(api: Api, pat: str, books: None) -> None:
    assert_refused(api.client.post("/api/jobs/fail", json={}, headers=api.auth(pat)), 400)


@pytest.mark.parametrize("refund", ["yes", 1, 0, [], {}])
def test_bad_refund_flags_are_400(api: Api, pat: str, started: str, books: None, refund: Any) -> None:
    assert_refused(api.fail(pat, started, refund=refund), 400, "invalid_request")


def test_unknown_job_ids_are_404(api: Api, pat: str, books: None) -> None:
    for job_id in ("nope", "00000000-0000-0000-0000-000000000000", "x" * 100):
        assert_refused(api.complete(pat, job_id, 1), 404, "job_not_found")
        assert_refused(api.fail(pat, job_id), 404, "job_not_found")
    assert_refused(api.complete(pat, "x" * 101, 1), 400, "invalid_request")


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "-1"}, {"limit": "abc"}, {"limit": "1001"}, {"limit": "2.5"},
     {"status": "done"}, {"app": "../x"}, {"app": ""}],
)
def test_bad_list_parameters_are_400(api: Api, pat: str, books: None, params: dict[str, str]) -> None:
    assert_refused(api.jobs(pat, **params), 400, "invalid_request")


@pytest.mark.parametrize("app", ["", "a b", "x" * 65, "-lead"])
def test_bad_wallet_apps_are_400(api: Api, pat: str, books: None, app: str) -> None:
    assert_refused(api.wallet(pat, app=app), 400, "invalid_request")


def test_unauthenticated_bad_input_is_401_first(api: Api, books: None) -> None:
    response = api.client.post("/api/jobs", content=b"{{{")
    assert response.status_code == 401
