"""The end-of-body watch that decides complete-or-refund for streamed paid responses."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from focus_middleware.bodies import SettlingAsyncIterable, SettlingIterable


def watch(body: object) -> tuple[SettlingIterable, list[tuple[bool, BaseException | None]]]:
    seen: list[tuple[bool, BaseException | None]] = []
    return SettlingIterable(body, lambda done, err: seen.append((done, err))), seen  # type: ignore[arg-type]


def test_exhausted_then_closed_is_complete() -> None:
    body, seen = watch([b"a", b"b"])
    assert b"".join(body) == b"ab"
    body.close()
    body.close()
    assert seen == [(True, None)]


def test_closed_early_is_not_complete_and_closes_the_inner_body() -> None:
    closed = []

    def gen() -> Iterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            closed.append(True)

    body, seen = watch(gen())
    assert next(body) == b"a"
    body.close()
    assert seen == [(False, None)] and closed == [True]


def test_an_error_while_streaming_is_not_complete() -> None:
    def gen() -> Iterator[bytes]:
        yield b"a"
        raise RuntimeError("boom")

    body, seen = watch(gen())
    with pytest.raises(RuntimeError):
        list(body)
    body.close()
    assert seen[0][0] is False and isinstance(seen[0][1], RuntimeError)


def test_never_iterated_is_not_complete() -> None:
    body, seen = watch([b"x"])
    body.close()
    assert seen == [(False, None)]


@pytest.mark.anyio
async def test_async_body() -> None:
    async def gen():  # type: ignore[no-untyped-def]
        yield b"a"
        yield b"b"

    whole = SettlingAsyncIterable(gen())
    assert [c async for c in whole] == [b"a", b"b"] and whole.outcome() == (True, None)

    cut = SettlingAsyncIterable(gen())
    it = cut.__aiter__()
    assert await it.__anext__() == b"a"
    await it.aclose()  # type: ignore[attr-defined]
    done, error = cut.outcome()
    assert done is False and isinstance(error, GeneratorExit)
    await anyio.sleep(0)
