"""The emulator against its own OpenAPI document: every endpoint described, and every
answer to generated requests described too (schemathesis, bounded and derandomized)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from focus_middleware.testing import FocusEmulator

EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def emu() -> Iterator[FocusEmulator]:
    with FocusEmulator() as emulator:
        yield emulator
        emulator.check_books()


def test_the_document_describes_every_endpoint(emu: FocusEmulator) -> None:
    doc = httpx.get(emu.url + "/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1") and doc["servers"] == [{"url": emu.url}]
    described = {
        f"{method.upper()} {path}" for path, item in doc["paths"].items() for method in item
    }
    assert described == emu.endpoints
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["session"] == {"type": "apiKey", "in": "cookie", "name": "__session"}
    assert schemes["signin"]["in"] == "cookie"
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert operation["summary"] and operation["responses"], (method, path)


def test_the_docs_page_lists_every_endpoint(emu: FocusEmulator) -> None:
    page = httpx.get(emu.url + "/api/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for name in emu.endpoints:
        method, path = name.split(" ")
        assert f"<code>{path}</code>" in page.text and f"<code>{method}</code>" in page.text
    assert 'href="/api/openapi.json"' in page.text


def _fuzz(operation: Any, mode: schemathesis.GenerationMode, call: Callable[[Any], Any]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        call(case)

    run()


def test_the_emulator_conforms_to_its_own_openapi(emu: FocusEmulator) -> None:
    user = emu.create_user(credits=1000)
    user.connect_oauth("x")
    headers = {"Authorization": f"Bearer {user.pat()}"}
    cookies = {"focus_emulator_signin": user.signin_cookie()}
    schema = schemathesis.openapi.from_url(emu.url + "/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    # schemathesis leaves out the document's own endpoint; everything else is driven.
    assert {op.label for op in operations} | {"GET /api/openapi.json"} == emu.endpoints

    def call(case: Any) -> None:
        response = case.call(headers=headers, cookies=cookies, allow_redirects=False, timeout=10)
        case.validate_response(response, checks=CHECKS, headers=headers)

    negated = []
    for operation in operations:
        _fuzz(operation, schemathesis.GenerationMode.POSITIVE, call)
        try:
            _fuzz(operation, schemathesis.GenerationMode.NEGATIVE, call)
        except Unsatisfiable:
            continue  # nothing in this operation's input can be made invalid
        negated.append(operation.label)
    assert "POST /api/jobs" in negated and "POST /api/device/complete" in negated
    emu.check_books()
