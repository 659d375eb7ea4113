"""One request's paid work, from the refusal decision to the one settlement.

Every adapter (ASGI, WSGI and Flask on it, Django) opens a :class:`PaidRequest` when a paid
route is hit and then only reports facts as they happen: the response started (with its
status), a body chunk went out, the body finished, a file was handed to the server whole
(``http.response.pathsend``, ``http.response.zerocopysend``), the client left, the handler
raised (even if an exception handler then answered 2xx), the request was cancelled. This
object records them and decides, once, what the job becomes (:meth:`PaidRequest.settlement`):

- **complete** only when the handler did not raise, the status is < 400 and the whole
  answer went out to a client that was still there;
- **fail with refund** otherwise: an exception, a cancellation, a status >= 400, no
  response at all, a body cut short, a client gone before the end.

A client that leaves *after* the last byte was handed over changes nothing: servers report
a disconnect once a response is complete too (uvicorn's ``receive`` does), and the work was
delivered.

Reservation and settlement are the lifecycle's (:mod:`focus_middleware.jobs`); this object
only makes sure there is one job per request and that it is settled exactly once, whoever
gets there first (the response's end, a cancellation, a shutdown).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Literal

from focus_middleware.access import paid_refusal, reservation_refusal
from focus_middleware.cache import JSONValue
from focus_middleware.errors import FocusError
from focus_middleware.idempotency import Idempotency, OnceKeys, busy, keys_for, new_record, repeat_answer, settled_record
from focus_middleware.jobs import AsyncPaidJobs, FocusJob, PaidJobs, PaidRoute, Settlement, new_request_id
from focus_middleware.outcome import Authenticated, Outcome
from focus_middleware.responses import InsufficientCreditsPage, ResponseSpec
from focus_middleware.shielding import Shielded

if TYPE_CHECKING:
    from focus_middleware.config import FocusConfig
    from focus_middleware.facts import RequestFacts

Delivery = Literal["pending", "finished", "cut"]


class PaidRequest:
    """See the module docstring. Built by :func:`decide`; adapters report facts with the
    ``response_started`` ... ``cancelled`` methods, then call :meth:`settle` /
    :meth:`asettle` from their outermost wrapper."""

    __slots__ = ("_lock", "abandoned", "auth", "client_gone", "delivery", "error", "job", "once", "once_keys",
                 "once_record", "raised", "reservation", "route", "settled", "status")

    def __init__(self, route: PaidRoute, auth: Authenticated) -> None:
        self.route = route
        self.auth = auth
        self.job: FocusJob | None = None
        self.reservation: Shielded[FocusJob] | None = None
        self.status: int | None = None
        self.delivery: Delivery = "pending"
        self.client_gone = False
        self.raised: BaseException | None = None
        """What the handler raised, even if an exception handler answered for it."""
        self.error: BaseException | None = None
        """What ended the request abnormally (escaped the app, cancelled it, a failed write)."""
        self.settled = False
        self.abandoned = False
        """A shutdown gave up waiting and refunded the job: no more of the answer may go out
        (it would be delivered uncharged); adapters check :meth:`may_deliver`."""
        self._lock = threading.Lock()
        self.once: Idempotency | None = None
        """The request's idempotency key, set by the adapter before reserving."""
        self.once_keys: OnceKeys | None = None
        self.once_record: dict[str, JSONValue] | None = None

    # -- facts ---------------------------------------------------------------------------------

    def response_started(self, status: int) -> None:
        self.status = status

    def body_finished(self) -> None:
        """The last body chunk was handed to the server (or the WSGI iterable exhausted)."""
        if self.delivery == "pending":
            self.delivery = "finished"

    def file_sent(self) -> None:
        """The server took the whole file to send itself (``pathsend``/``zerocopysend``)."""
        self.body_finished()

    def body_cut(self) -> None:
        """The body ended before its end (the server closed it, the stream broke)."""
        if self.delivery == "pending":
            self.delivery = "cut"

    def client_left(self) -> None:
        """The client went away; after the whole answer went out it changes nothing."""
        if self.delivery == "pending":
            self.client_gone = True

    def handler_raised(self, error: BaseException) -> None:
        self.raised = error

    def ended_by(self, error: BaseException) -> None:
        """An exception (a cancellation included) ended the request."""
        if self.error is None:
            self.error = error

    def may_deliver(self) -> bool:
        """Whether the answer may still go out: not after a shutdown refunded the job."""
        return not self.abandoned

    # -- the decision --------------------------------------------------------------------------

    def settlement(self) -> Settlement:
        """Complete only when the handler succeeded and the whole answer reached a client
        that was still there; everything else refunds."""
        if self.raised is not None or self.error is not None:
            return "fail"
        if self.status is None or self.status >= 400:
            return "fail"
        if self.client_gone or self.delivery != "finished":
            return "fail"
        return "complete"

    def cannot_complete(self) -> bool:
        """Whether the job can only fail now, whatever happens to the body (the handler
        raised, or answered >= 400): an adapter may settle at once instead of waiting for
        a body nobody may ever read."""
        return self.raised is not None or self.error is not None or (self.status is not None and self.status >= 400)

    # -- reserving -----------------------------------------------------------------------------

    def _take(self, job: FocusJob) -> FocusJob:
        self.job = job
        return job

    def reserve(self, jobs: PaidJobs, facts: RequestFacts, config: FocusConfig, *,
                page: InsufficientCreditsPage | None = None, signin_page: str | None = None) -> ResponseSpec | None:
        """``POST /api/jobs`` (blocking): None once reserved, or the refusal to answer with
        instead (402, 401, 503). An error that is the app's bug is raised. With an
        idempotency key (:attr:`once`), a repeat gets its answer instead and reserves nothing."""
        once = self.once
        if once is None:
            return self._reserve(jobs, facts, config, page, signin_page, new_request_id())
        keys = self._once_keys(jobs, config, once)
        with jobs.once.claimed(keys) as held:
            if held is None:
                return busy(facts, config, self.route)
            if held.record is not None:
                return repeat_answer(facts, config, self.route, once, held.record)
            refused = self._reserve(jobs, facts, config, page, signin_page, keys.request_id)
            if refused is None and self.job is not None:
                held.save(self._first_record(config, once))
            return refused

    def _reserve(self, jobs: PaidJobs, facts: RequestFacts, config: FocusConfig, page: InsufficientCreditsPage | None,
                 signin_page: str | None, request_id: str) -> ResponseSpec | None:
        try:
            self._take(jobs.reserve(self.route, self.auth, request_id))
        except FocusError as error:
            return self._refusal(facts, config, error, page, signin_page)
        jobs.opened(self)
        return None

    def _once_keys(self, jobs: PaidJobs | AsyncPaidJobs, config: FocusConfig, once: Idempotency) -> OnceKeys:
        self.once_keys = keys_for(config, self.auth, jobs._app(self.route), once.key)
        return self.once_keys

    def _first_record(self, config: FocusConfig, once: Idempotency) -> dict[str, JSONValue]:
        assert self.job is not None
        self.once_record = new_record(self.route, once, self.job, config.clock.time())
        return self.once_record

    async def areserve(self, jobs: AsyncPaidJobs, facts: RequestFacts, config: FocusConfig, *,
                       page: InsufficientCreditsPage | None = None,
                       signin_page: str | None = None) -> ResponseSpec | None:
        """:meth:`reserve` on asyncio. The reservation runs on in a task of its own, so a
        request cancelled meanwhile still refunds a reservation that lands (:meth:`asettle`
        waits for it)."""
        once = self.once
        if once is None:
            return await self._areserve(jobs, facts, config, page, signin_page, new_request_id())
        keys = self._once_keys(jobs, config, once)
        async with jobs.once.claimed(keys) as held:
            if held is None:
                return busy(facts, config, self.route)
            if held.record is not None:
                return repeat_answer(facts, config, self.route, once, held.record)
            refused = await self._areserve(jobs, facts, config, page, signin_page, keys.request_id)
            if refused is None and self.job is not None:
                held.save(self._first_record(config, once))
            return refused

    async def _areserve(self, jobs: AsyncPaidJobs, facts: RequestFacts, config: FocusConfig,
                        page: InsufficientCreditsPage | None, signin_page: str | None,
                        request_id: str) -> ResponseSpec | None:
        self.reservation = Shielded(jobs.reserve(self.route, self.auth, request_id))
        try:
            self._take(await self.reservation.result())
        except FocusError as error:
            return self._refusal(facts, config, error, page, signin_page)
        jobs.opened(self)
        return None

    def _refusal(self, facts: RequestFacts, config: FocusConfig, error: FocusError,
                 page: InsufficientCreditsPage | None, signin_page: str | None) -> ResponseSpec:
        spec = reservation_refusal(facts, config, self.route, self.auth, error, page=page, signin_page=signin_page)
        if spec is None:
            raise error
        return spec

    # -- settling ------------------------------------------------------------------------------

    def _claim(self) -> bool:
        """Whether this caller is the one to settle (exactly once, whoever comes first)."""
        with self._lock:
            if self.settled:
                return False
            self.settled = True
            return True

    def abandon(self) -> bool:
        """At shutdown, for work still running past the wait: from now on nothing more of
        the answer goes out, and the job is this caller's to settle (with a refund, unless
        the whole answer already went out). False if someone else is settling it."""
        self.abandoned = True
        return not self.settled

    def settle(self, jobs: PaidJobs, settlement: Settlement | None = None, *, force: bool = False) -> None:
        """Complete or fail the job (blocking; never raises: what cannot be delivered is
        kept). Once; a request that reserved nothing has nothing to settle. ``force``: at
        the process's end, also a job whose settler never finished (its event loop is gone;
        a duplicate is refused by the service and dropped)."""
        job = self.job
        if job is None or (not self._claim() and not force):
            return
        try:
            jobs.settle(job, self.auth.credential, settlement or self.settlement())
        finally:
            jobs.closed(self)
        if self.once_keys is not None and self.once_record is not None:
            jobs.once.settled(self.once_keys, settled_record(self.once_record, job))  # repeats see the status

    async def asettle(self, jobs: AsyncPaidJobs, settlement: Settlement | None = None) -> None:
        """:meth:`settle` on asyncio, shielded; a reservation still under way (the request
        was cancelled while reserving) is waited for and refunded if it lands."""
        job = self.job
        if job is None and self.reservation is not None:
            try:
                job = self._take(await self.reservation.result())
            except Exception:
                return  # refused or failed: nothing was reserved
            jobs.opened(self)
        if job is None or not self._claim():
            return
        try:
            await jobs.settle(job, self.auth.credential, settlement or self.settlement())
        finally:
            jobs.closed(self)
        if self.once_keys is not None and self.once_record is not None:
            await jobs.once.settled(self.once_keys, settled_record(self.once_record, job))  # repeats see the status

    def __repr__(self) -> str:
        job = self.job.job_id if self.job is not None else None
        return (f"PaidRequest({self.route.action!r}, job={job!r}, status={self.status!r}, delivery={self.delivery!r}, "
                f"client_gone={self.client_gone!r}, settled={self.settled!r})")


def decide(facts: RequestFacts, outcome: Outcome, config: FocusConfig, route: PaidRoute, *,
           page: InsufficientCreditsPage | None = None, nonce: str | None = None,
           signin_page: str | None = None) -> PaidRequest | ResponseSpec:
    """Before reserving: the refusal to send (sign-in, 401, 403, 503), or the request's
    :class:`PaidRequest` to reserve with."""
    checked = paid_refusal(facts, outcome, config, route, page=page, nonce=nonce, signin_page=signin_page)
    if isinstance(checked, ResponseSpec):
        return checked
    return PaidRequest(route, checked)


def one_per_request(opened: PaidRequest | None, route: PaidRoute) -> PaidRequest | None:
    """The request's paid work if it is already open for ``route`` (a decorator and a
    dependency on one endpoint); opening another route in the same request is a bug."""
    if opened is not None and opened.route != route:
        raise RuntimeError(f"a paid job ({opened.route.action!r}) is already open for this request")
    return opened


__all__ = ["PaidRequest", "decide", "one_per_request"]
