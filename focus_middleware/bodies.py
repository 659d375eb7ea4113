"""Knowing whether a whole response body went out, for settling paid jobs.

A paid job is completed only when the client received everything; a body that was cut
short (the client left, the server closed it early, the generator raised) fails the job
with a refund. WSGI servers, Werkzeug, Flask and Django all signal the end of a body the
same way: the iterable is exhausted, then ``close()`` is called. These wrappers watch
that and report once: ``on_done(completed, error)``.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator

OnDone = Callable[[bool, "BaseException | None"], None]


class SettlingIterable:
    """A body iterable that reports, at ``close()``, whether it was exhausted first.

    ``close()`` is where WSGI promises to tell us the response is over (PEP 3333), also
    when the client disconnected mid-stream; iteration alone cannot tell "done" from
    "abandoned". A server that never calls ``close()`` leaves the job to be released by
    the service, which is why every server we support is tested to call it.
    """

    def __init__(self, body: Iterable[bytes], on_done: OnDone, *, on_exhausted: Callable[[], None] | None = None) -> None:
        self._body = body
        self._on_done = on_done
        self._on_exhausted = on_exhausted
        self._iterator: Iterator[bytes] | None = None
        self._exhausted = False
        self._error: BaseException | None = None
        self._reported = False
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._iterator is None:
            self._iterator = iter(self._body)
        try:
            return next(self._iterator)
        except StopIteration:
            if not self._exhausted:
                self._exhausted = True
                if self._on_exhausted is not None:
                    self._on_exhausted()
            raise
        except BaseException as error:
            self._error = error
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self.report()

    def report(self) -> None:
        with self._lock:
            if self._reported:
                return
            self._reported = True
        self._on_done(self._exhausted and self._error is None, self._error)


class SettlingAsyncIterable:
    """The same watch for async bodies (Django's async streaming responses); the adapter
    reads :meth:`outcome` when the server closes the response."""

    def __init__(self, body: AsyncIterable[bytes]) -> None:
        self._body = body
        self._exhausted = False
        self._error: BaseException | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._body:
                yield chunk
            self._exhausted = True
        except BaseException as error:  # GeneratorExit and CancelledError included
            self._error = error
            raise

    def outcome(self) -> tuple[bool, BaseException | None]:
        return self._exhausted and self._error is None, self._error
