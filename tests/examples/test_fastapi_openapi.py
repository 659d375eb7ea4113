"""Clip Studio on FastAPI against its own OpenAPI document: Schemathesis, every check, no
failure.

The app is served for real (uvicorn on 127.0.0.1, as tests/examples serves it) against an
emulator, and Schemathesis's CLI drives every documented operation through all its phases
(examples, coverage, fuzzing, stateful) with ``--checks all``, authenticated by an
emulator PAT: undocumented statuses, content types or headers, bodies that break their
schema, anonymous requests accepted where the document requires a credential (and
refused where it says the credential is optional), a 405 whose ``Allow`` is wrong... all
fail the test. No check is excluded. Bounded (a few derandomized examples per operation)
so it takes seconds, not minutes.

The token reaches Schemathesis through the environment and its config file's
``${FOCUS_TEST_PAT}`` placeholder, never its command line; its output filters
``Authorization`` out.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from focus_middleware.clock import FakeClock
from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.paid.conftest import settled

from .servers import APP, fastapi_served

EXAMPLES_PER_OPERATION = 5
BUDGET_SECONDS = 60

CONFIG = 'headers = { Authorization = "Bearer ${FOCUS_TEST_PAT}" }\n'
"""Schemathesis reads ``${NAME}`` from the environment: the token stays off its command line."""


@pytest.fixture
def emulator() -> Iterator[FocusEmulator]:
    with FocusEmulator(db=":memory:", clock=FakeClock(), host="localhost") as emu:
        emu.create_app(APP, starter_credits=0)
        yield emu
        emu.check_books()


@pytest.fixture
def rich_user(emulator: FocusEmulator) -> EmulatedUser:
    # Every paid call reserves 5 credits: enough for all of them, so the fuzzer meets
    # success; the 402 is checked against the document in tests/fastapi/test_openapi.py.
    return emulator.create_user(credits=100_000)


@pytest.fixture
def app_url(emulator: FocusEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CLIP_STUDIO_STEP_SECONDS", "0")  # the streamed render's pauses
    clock = emulator.clock
    assert isinstance(clock, FakeClock)
    with fastapi_served(emulator, clock) as url:
        yield url


def test_clip_studio_conforms_to_its_openapi_document(emulator: FocusEmulator, rich_user: EmulatedUser,
                                                       app_url: str, tmp_path: Path) -> None:
    document = httpx.get(app_url + "/openapi.json").json()
    assert document["paths"]["/"]["get"]["security"] == [{"FocusBearer": []}, {}]  # the run below means it
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    pat = rich_user.pat()
    env = {**os.environ, "FOCUS_TEST_PAT": pat, "NO_COLOR": "1"}
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config),
        "run", app_url + "/openapi.json",
        "--checks", "all",
        "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--generation-deterministic",  # the same cases every run (no seed, no example database)
        "--workers", "1",
        "--max-redirects", "0",  # a redirect is an answer to check, not to follow
        "--request-timeout", "10",
    ]
    # Bounded by the subprocess timeout (speed belongs in bench/, not in an assertion).
    # In tmp_path, so that its crash files and Hypothesis's directory stay out of the checkout.
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=BUDGET_SECONDS * 2)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert f"Tested: {len(_operations(document))}" in report, report  # every operation was driven
    for phase in ("Coverage", "Fuzzing", "Stateful"):  # none skipped (the document has no examples)
        assert f"\u2705 {phase}" in report, report
    settled(emulator, rich_user)  # every reservation it caused was settled, and the books add up
    assert pat not in report


def _operations(document: dict[str, object]) -> list[str]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return [f"{method.upper()} {path}" for path, item in paths.items() for method in item]


@pytest.mark.anyio
async def test_a_405_lists_every_method_of_the_path(emulator: FocusEmulator) -> None:
    # RFC 9110, 15.5.6: a 405 carries an Allow with the resource's supported methods.
    # Starlette's router hands a method mismatch to the first route matching the path
    # (starlette/routing.py, Router.app and Route.handle), whose Allow names only its own
    # methods: POST for /render, though GET /render exists too. Schemathesis's
    # allow_header_conformance caught it; the app's 405 handler lists them all.
    from example_apps.fastapi_app import create_app

    from .servers import config

    app = create_app(config(emulator, emulator.clock, "http://127.0.0.1:8000"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as client:
        for method, path, allow in [("OPTIONS", "/render", "GET, POST"), ("PUT", "/render/stream", "GET, POST"),
                                    ("DELETE", "/api/me", "GET"), ("GET", "/api/render", "POST")]:
            response = await client.request(method, path)
            assert response.status_code == 405 and response.headers["allow"] == allow, (method, path)
        assert (await client.get("/no/such/page")).status_code == 404
