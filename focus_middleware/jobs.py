"""The paid-job lifecycle: reserve, run, settle the actual cost, refund on any failure.

This module owns every decision of docs/architecture.md's "The paid-job lifecycle"; adapters only
report what happened (the handler's status, whether the whole body went out, an exception
or a cancellation) and call :meth:`PaidJobs.settle` / :meth:`AsyncPaidJobs.settle` once,
from their outermost wrapper.

A settlement is never dropped: when it cannot be delivered (the service is down, or the
user's session token expired while a stream ran) it is kept, reported through a hook and
a log line with the job id, retried with the user's next valid credential
(:meth:`~_PaidJobsBase.due_for_retry` says which request carries it), and drained at
shutdown: by the adapter's lifespan or shutdown hook, and once more at interpreter exit
with a blocking client (servers without a lifespan; the event loop is gone by then). The
service itself releases what is left after 24 hours.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import anyio

from focus_middleware import events
from focus_middleware.deprecation import renamed
from focus_middleware.client import AsyncFocusClient, FocusClient
from focus_middleware.config import FocusConfig
from focus_middleware.errors import ConflictError, FocusError, NotFoundError
from focus_middleware.idempotency import AsyncOnceStore, OnceStore
from focus_middleware.outcome import Authenticated, Credential, Expired, Outcome
from focus_middleware.shielding import Shielded, shielded

if TYPE_CHECKING:
    from focus_middleware.paid_request import PaidRequest

logger = logging.getLogger("focus_middleware.jobs")

Settlement = Literal["complete", "fail"]
_MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class PaidRoute:
    """What a ``paid(...)`` decorator declares about an endpoint."""

    action: str
    cost_estimate: int
    app: str | None = None
    description: str | None = None
    # For people: the action in words on the 402 page (else the slug), and what it usually
    # costs when that is less than the estimate it sets aside (shown only when given).
    label: str | None = None
    usual_cost: int | None = None
    # The most a job of this route is ever charged, whatever ``actual_cost`` the handler
    # sets (None: no bound, as the service charges overage in full).
    max_cost: int | None = None
    # Where a browser repeating this action with the same Idempotency-Key is sent (303):
    # a path with ``{job_id}``, or a callable taking the job id (None: the 409 page).
    result_url: str | Callable[[str], str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.action or not isinstance(self.action, str):
            raise ValueError("paid(): action must be a non-empty string")
        if isinstance(self.cost_estimate, bool) or not isinstance(self.cost_estimate, int) or self.cost_estimate < 0:
            raise ValueError("paid(): cost_estimate must be a whole number >= 0")
        if self.label is not None and (not isinstance(self.label, str) or not self.label.strip()):
            raise ValueError("paid(): label must be a non-empty string")
        usual = self.usual_cost
        if usual is not None and (isinstance(usual, bool) or not isinstance(usual, int) or usual < 0):
            raise ValueError("paid(): usual_cost must be a whole number >= 0")
        bound = self.max_cost
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int) or bound < 0):
            raise ValueError("paid(): max_cost must be a whole number >= 0")
        if isinstance(self.result_url, str) and not self.result_url.startswith("/"):
            raise ValueError("paid(): result_url must be a path of this app (starting with '/') or a callable")


@dataclass(slots=True)
class FocusJob:
    """The handle a paid handler sees (``request.focus_job`` or its framework's spelling).

    The handler may set ``actual_cost`` (default: the estimate) and add ``metadata``
    (``previewUrl``, ...); both are sent when the job is completed.
    """

    job_id: str
    app: str
    action: str
    cost_estimate: int
    request_id: str
    clerk_id: str
    actual_cost: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # "refused": the service answered 409/404 to the settlement, so it can never land.
    state: Literal["started", "completed", "failed", "pending", "refused"] = "started"
    max_cost: int | None = None

    def cost_to_charge(self) -> int:
        """What completing the job charges: ``actual_cost`` (default: the estimate), never
        above ``max_cost``. An actual cost above the estimate is an overage the service
        charges in full, so it is logged (action and job id, never a credential): a bug in
        a handler must not drain a wallet silently."""
        cost = self.cost_estimate if self.actual_cost is None else self.actual_cost
        if isinstance(cost, bool) or not isinstance(cost, int) or cost < 0:
            raise ValueError("focus_job.actual_cost must be a whole number >= 0")
        if cost > self.cost_estimate:
            logger.warning("focus: job %s (%s) actual_cost %d is above its estimate %d%s", self.job_id, self.action, cost,
                           self.cost_estimate, f"; capped at max_cost {self.max_cost}" if
                           self.max_cost is not None and cost > self.max_cost else "")
        if self.max_cost is not None and cost > self.max_cost:
            cost = self.max_cost
        return cost


@dataclass(slots=True)
class UndeliveredSettlement:
    """A settlement the service has not confirmed yet; kept until it is."""

    job_id: str
    clerk_id: str
    settlement: Settlement
    actual_cost: int
    metadata: Mapping[str, Any]
    credential: Credential = field(repr=False)
    attempts: int = 0


UndeliveredHook = Callable[[UndeliveredSettlement], None]


def settlement_for(*, status: int | None, body_complete: bool, error: BaseException | None) -> Settlement:
    """Complete only when the handler succeeded and the whole response went out."""
    if error is not None or status is None or status >= 400 or not body_complete:
        return "fail"
    return "complete"


def too_short_lived(outcome: Outcome, config: FocusConfig) -> bool:
    """A session token must outlive the work by ``min_token_life`` so it can settle it."""
    if not isinstance(outcome, Authenticated):
        return False
    expires = outcome.credential.expires_at
    return expires is not None and expires - config.clock.time() < config.min_token_life


def reservation_outcome(outcome: Outcome, config: FocusConfig) -> Outcome:
    """The outcome a paid route acts on: a nearly expired session counts as expired."""
    if too_short_lived(outcome, config):
        assert isinstance(outcome, Authenticated)
        return Expired(outcome.credential.source)
    return outcome


def new_request_id() -> str:
    return uuid.uuid4().hex


def reservation_metadata(route: PaidRoute, request_id: str) -> dict[str, Any]:
    return {"description": route.description or route.action, "request_id": request_id}


def _usable(credential: Credential, config: FocusConfig) -> bool:
    return credential.expires_at is None or credential.expires_at - config.leeway > config.clock.time()


class WalletSink(Protocol):
    def forget_wallet(self, clerk_id: str) -> None: ...


class PendingSettlements:
    """Undelivered settlements by user; bounded so a long outage cannot exhaust memory."""

    def __init__(self) -> None:
        self._by_user: dict[str, dict[str, UndeliveredSettlement]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(jobs) for jobs in self._by_user.values())

    def has(self, clerk_id: str) -> bool:
        return clerk_id in self._by_user  # a dict lookup: cheap enough for every request

    def add(self, item: UndeliveredSettlement) -> None:
        with self._lock:
            if sum(len(v) for v in self._by_user.values()) >= _MAX_PENDING:
                logger.error("focus: too many undelivered settlements; job %s left to the service's release", item.job_id)
                return
            self._by_user.setdefault(item.clerk_id, {})[item.job_id] = item

    def take(self, clerk_id: str | None = None) -> list[UndeliveredSettlement]:
        with self._lock:
            if clerk_id is None:
                items = [i for jobs in self._by_user.values() for i in jobs.values()]
                self._by_user.clear()
                return items
            return list(self._by_user.pop(clerk_id, {}).values())


SettlementPlan = Generator[UndeliveredSettlement, "BaseException | None", int]


class _PaidJobsBase:
    """The settlement decisions, written once as plans that yield each settlement to
    deliver and receive the error (or None); the sync and async classes only deliver."""

    def __init__(self, config: FocusConfig, wallets: WalletSink | None, on_undelivered: UndeliveredHook | None) -> None:
        self.config = config
        self.pending = PendingSettlements()
        self._wallets = wallets
        self._on_undelivered = on_undelivered
        # Paid requests reserved and not settled yet: what a shutdown must fail with refund.
        self._in_flight: set[PaidRequest] = set()
        self._in_flight_lock = threading.Lock()
        _LIVE.add(self)

    def opened(self, request: PaidRequest) -> None:
        """A paid request reserved its job: it is in flight until :meth:`closed`."""
        with self._in_flight_lock:
            self._in_flight.add(request)

    def closed(self, request: PaidRequest) -> None:
        with self._in_flight_lock:
            self._in_flight.discard(request)

    def in_flight(self) -> list[PaidRequest]:
        with self._in_flight_lock:
            return list(self._in_flight)

    def wait_in_flight(self, deadline: float) -> None:
        """Let the paid requests under way end (and settle) on their own, until ``deadline``
        (``time.monotonic()``): a deploy's signal should not refund work about to be delivered."""
        while self.in_flight() and time.monotonic() < deadline:
            time.sleep(0.02)

    def shutdown_blocking(self, wait_until: float | None = None) -> int:
        """At shutdown without an event loop (a signal, interpreter exit): let the work in
        flight end until ``wait_until``, then settle what is left (with a refund unless its
        whole answer went out; nothing more of it goes out), then one more try for
        everything kept, with a blocking client of its own. Returns how many settlements
        remain undelivered."""
        if wait_until is not None:
            self.wait_in_flight(wait_until)
        in_flight = self.in_flight()
        if not in_flight and not len(self.pending):
            return 0
        with FocusClient.from_config(self.config) as client:
            blocking = PaidJobs(self.config, client, wallets=self._wallets, on_undelivered=self._on_undelivered)
            _LIVE.discard(blocking)
            blocking.pending = self.pending
            for request in in_flight:
                request.abandon()
                logger.warning("focus: job of %s still in flight at shutdown; settled (%s)", request.route.action,
                               request.settlement())
                request.settle(blocking, force=True)
                self.closed(request)
            return blocking.drain()

    def _app(self, route: PaidRoute) -> str:
        app = route.app or self.config.app
        if not app:
            raise ValueError("paid(): no app given and FocusConfig.app is not set")
        return app

    def _job(self, route: PaidRoute, app: str, job_id: str, request_id: str, clerk_id: str) -> FocusJob:
        if events.active:
            events.emit(events.JobReserved(app, route.action, route.cost_estimate, job_id))
        return FocusJob(job_id=job_id, app=app, action=route.action, cost_estimate=route.cost_estimate,
                       request_id=request_id, clerk_id=clerk_id, max_cost=route.max_cost)

    def _credits_moved(self, clerk_id: str) -> None:
        if self._wallets is not None:
            self._wallets.forget_wallet(clerk_id)

    def _keep(self, item: UndeliveredSettlement, error: BaseException | None) -> None:
        item.attempts += 1
        self.pending.add(item)
        _AT_EXIT.add(self)
        reason = type(error).__name__ if error is not None else "credential expired"
        logger.warning("focus: settlement of job %s (%s) not delivered (%s); kept for retry", item.job_id, item.settlement, reason)
        if events.active:
            events.emit(events.SettlementKept(item.job_id, item.settlement, reason, item.attempts))
        self._announce(item)

    def _announce(self, item: UndeliveredSettlement) -> None:
        if self._on_undelivered is not None:
            try:
                self._on_undelivered(item)
            except Exception:  # a broken hook must not lose the settlement
                logger.exception("focus: on_undelivered hook failed for job %s", item.job_id)

    @staticmethod
    def _landed(item: UndeliveredSettlement, error: BaseException | None, *, kept: bool) -> None:
        """The events of one delivery attempt that is not kept again: landed (and, for a
        settlement kept earlier, delivered), or given up."""
        if error is not None:
            events.emit(events.SettlementGivenUp(item.job_id, item.settlement, type(error).__name__))
            return
        if item.settlement == "complete":
            events.emit(events.JobCompleted(item.job_id, item.actual_cost))
        else:
            events.emit(events.JobFailed(item.job_id))
        if kept:
            events.emit(events.SettlementDelivered(item.job_id, item.settlement, item.attempts))

    @staticmethod
    def _retryable(error: BaseException | None) -> bool:
        """A conflict or an unknown job can never be fixed by resending: logged, dropped."""
        if isinstance(error, (ConflictError, NotFoundError)):
            logger.error("focus: settlement refused for good (%s)", type(error).__name__)
            return False
        return error is not None

    def due_for_retry(self, outcome: Outcome) -> Authenticated | None:
        """The outcome whose credential should carry its user's kept settlements now, or
        None (a dict lookup: cheap enough for every request). Any request of the user will
        do, not only a paid one: a refund must not wait while the user browses for free."""
        kept = self.pending._by_user  # nearly always empty: then no more is asked
        if kept and isinstance(outcome, Authenticated) and outcome.account.clerk_id in kept:
            return outcome
        return None

    def drain_blocking(self) -> int:
        """:meth:`drain` with a blocking client of its own: at interpreter exit, for servers
        that never ran a lifespan shutdown, the event loop (and the async client bound to
        it) is gone. Returns how many remain."""
        if not len(self.pending):
            return 0
        with FocusClient.from_config(self.config) as client:
            blocking = PaidJobs(self.config, client)
            _LIVE.discard(blocking)
            blocking.pending = self.pending
            return blocking.drain()

    def _settle_plan(self, job: FocusJob, credential: Credential, settlement: Settlement) -> SettlementPlan:
        if job.state != "started":
            return 0
        item = UndeliveredSettlement(job.job_id, job.clerk_id, settlement, job.cost_to_charge(), dict(job.metadata), credential)
        if not _usable(credential, self.config):
            self._keep(item, None)  # the stream outlived the token: the user's next credential settles it
            job.state = "pending"
            return 1
        error = yield item
        if self._retryable(error):
            self._keep(item, error)
            job.state = "pending"
            return 1
        if events.active:
            self._landed(item, error, kept=False)
        if error is not None:
            job.state = "refused"
        else:
            job.state = "completed" if settlement == "complete" else "failed"
        return 0

    def _retry_plan(self, clerk_id: str, credential: Credential) -> SettlementPlan:
        if not self.pending.has(clerk_id):
            return 0
        kept = 0
        for item in self.pending.take(clerk_id):
            item.credential = credential
            error = yield item
            if self._retryable(error):
                self._keep(item, error)
                kept += 1
            elif events.active:
                self._landed(item, error, kept=True)
        return kept

    def _drain_plan(self) -> SettlementPlan:
        left = 0
        for item in self.pending.take():
            error = (yield item) if _usable(item.credential, self.config) else TimeoutError()
            if self._retryable(error):
                left += 1
                logger.error("focus: job %s still unsettled at shutdown; the service releases it after 24 h", item.job_id)
                item.attempts += 1
                self._announce(item)
                if events.active:
                    events.emit(events.SettlementGivenUp(item.job_id, item.settlement, "shutdown"))
            elif events.active:
                self._landed(item, error, kept=True)
        return left


class PaidJobs(_PaidJobsBase):
    """The lifecycle with blocking I/O (WSGI, Flask, Django sync views)."""

    def __init__(self, config: FocusConfig, client: FocusClient, *, wallets: WalletSink | None = None,
                 on_undelivered: UndeliveredHook | None = None) -> None:
        super().__init__(config, wallets, on_undelivered)
        self.client = client
        self._once: OnceStore | None = None

    @property
    def once(self) -> OnceStore:
        """Where idempotency keys are claimed: the resolver's caches (made on first use)."""
        if self._once is None:
            self._once = OnceStore(self.config, self._wallets)
        return self._once

    def reserve(self, route: PaidRoute, auth: Authenticated, request_id: str | None = None) -> FocusJob:
        """``POST /api/jobs``; raises the client's errors (402, 401, unavailable) unchanged."""
        app, request_id = self._app(route), request_id or new_request_id()
        try:
            created = self.client.create_job(app, route.action, route.cost_estimate,
                                             reservation_metadata(route, request_id), request_id,
                                             token=auth.credential.token)
        finally:
            self._credits_moved(auth.account.clerk_id)
        return self._job(route, app, created.job_id, request_id, auth.account.clerk_id)

    def settle(self, job: FocusJob, credential: Credential, settlement: Settlement) -> None:
        """Complete or fail ``job``. Never raises: what cannot be delivered is kept."""
        self._drive(self._settle_plan(job, credential, settlement))

    def retry_pending(self, clerk_id: str, credential: Credential) -> None:
        """The user is back with a valid credential: deliver what was kept for them."""
        self._drive(self._retry_plan(clerk_id, credential))

    def drain(self) -> int:
        """At shutdown: one more try for everything kept; returns how many remain."""
        return self._drive(self._drain_plan())

    def _drive(self, plan: SettlementPlan) -> int:
        try:
            item = next(plan)
            while True:
                item = plan.send(self._deliver(item))
        except StopIteration as done:
            return int(done.value)

    def _deliver(self, item: UndeliveredSettlement) -> BaseException | None:
        try:
            if item.settlement == "complete":
                self.client.complete_job(item.job_id, item.actual_cost, item.metadata or None, token=item.credential.token)
            else:
                self.client.fail_job(item.job_id, refund=True, token=item.credential.token)
        except FocusError as error:
            return error
        finally:
            self._credits_moved(item.clerk_id)
        return None


class AsyncPaidJobs(_PaidJobsBase):
    """The lifecycle on asyncio (ASGI, Django async views). Reservation and settlement are
    shielded from cancellation, settlement bounded by ``settle_timeout``: a client that
    leaves must not take the refund with it."""

    def __init__(self, config: FocusConfig, client: AsyncFocusClient, *, wallets: WalletSink | None = None,
                 on_undelivered: UndeliveredHook | None = None) -> None:
        super().__init__(config, wallets, on_undelivered)
        self.client = client
        self._settling: set[asyncio.Task[Any]] = set()
        self._once: AsyncOnceStore | None = None

    @property
    def once(self) -> AsyncOnceStore:
        """Where idempotency keys are claimed: the resolver's caches (made on first use)."""
        if self._once is None:
            self._once = AsyncOnceStore(self.config, self._wallets)
        return self._once

    async def reserve(self, route: PaidRoute, auth: Authenticated, request_id: str | None = None) -> FocusJob:
        app, request_id = self._app(route), request_id or new_request_id()
        try:
            with anyio.CancelScope(shield=True):
                created = await self.client.create_job(app, route.action, route.cost_estimate,
                                                       reservation_metadata(route, request_id), request_id,
                                                       token=auth.credential.token)
        finally:
            self._credits_moved(auth.account.clerk_id)
        return self._job(route, app, created.job_id, request_id, auth.account.clerk_id)

    # Settling runs in a task of its own on asyncio (``shielded``): anyio's shield alone does
    # not stop a native task.cancel(), and a settlement cut short is neither sent nor kept.

    async def settle(self, job: FocusJob, credential: Credential, settlement: Settlement) -> None:
        work = Shielded(self._drive(self._settle_plan(job, credential, settlement)))
        task = work.task
        if task is not None:  # awaited by a shutdown that comes meanwhile (:meth:`ashutdown`)
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)
        await work.result()

    async def ashutdown(self, timeout: float | None = None) -> int:
        """At shutdown (lifespan, ``aclose``): wait for the settlements under way, fail
        every job still in flight with a refund, then one more try for everything kept; all
        within ``timeout`` (default ``shutdown_timeout``). Returns how many remain."""
        timeout = self.config.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with anyio.CancelScope(shield=True):
            # Requests the server just cancelled settle in their own tasks, which may not
            # have started yet: wait for every request in flight, up to half the time.
            waiting = time.monotonic() + timeout / 2
            while (self.in_flight() or self._settling) and time.monotonic() < waiting:
                running = [t for t in self._settling if not t.done()]
                if running:
                    await asyncio.wait(running, timeout=max(0.0, waiting - time.monotonic()))
                else:
                    await asyncio.sleep(0.02)
            in_flight = self.in_flight()
            for request in in_flight:
                request.abandon()
                logger.warning("focus: job of %s still in flight at shutdown; settled (%s)", request.route.action,
                               request.settlement())
            with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
                for request in in_flight:
                    await request.asettle(self)
                    self.closed(request)
            if not len(self.pending):
                return 0
            with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
                return await self.drain()
            # The drain runs on in its own task; what it cannot deliver is logged and
            # announced there, and kept for the drain at exit if the loop ends first.
            logger.error("focus: kept settlements not drained within shutdown_timeout (%s s)", timeout)
        return len(self.pending)

    async def retry_pending(self, clerk_id: str, credential: Credential) -> None:
        await shielded(self._drive(self._retry_plan(clerk_id, credential)))

    async def drain(self) -> int:
        return await shielded(self._drive(self._drain_plan()))

    async def _drive(self, plan: SettlementPlan) -> int:
        try:
            item = next(plan)
            while True:
                item = plan.send(await self._deliver(item))
        except StopIteration as done:
            return int(done.value)

    async def _deliver(self, item: UndeliveredSettlement) -> BaseException | None:
        try:
            with anyio.CancelScope(shield=True), anyio.fail_after(self.config.settle_timeout):
                if item.settlement == "complete":
                    await self.client.complete_job(item.job_id, item.actual_cost, item.metadata or None,
                                                   token=item.credential.token)
                else:
                    await self.client.fail_job(item.job_id, refund=True, token=item.credential.token)
        except (FocusError, TimeoutError) as error:
            return error
        except asyncio.CancelledError as cancelled:
            # Only an event loop that ends cancels a settlement's own task (asyncio.run's
            # cleanup, a per-loop client whose loop is gone): kept for the drain, not lost.
            return cancelled
        finally:
            self._credits_moved(item.clerk_id)
        return None


# Every lifecycle that ever kept a settlement, drained once more when the interpreter exits:
# held, so an app dropped before the exit (a script's local) still delivers what it kept.
_AT_EXIT: set[_PaidJobsBase] = set()
# Every lifecycle alive: a shutdown fails their jobs in flight too.
_LIVE: weakref.WeakSet[_PaidJobsBase] = weakref.WeakSet()


def shutdown_all(wait: float = 0.0) -> int:
    """Let the work in flight end for up to ``wait`` seconds, settle what is left (a refund
    unless its answer went out) and drain every kept settlement, each lifecycle with a
    blocking client of its own (a signal, interpreter exit: no event loop to use). Returns
    how many settlements remain undelivered."""
    left = 0
    deadline = time.monotonic() + wait
    for jobs in {*_LIVE, *_AT_EXIT}:
        try:
            left += jobs.shutdown_blocking(deadline)
        except Exception:  # nothing may stop the other lifecycles' drains
            logger.exception("focus: draining settlements at shutdown failed")
    return left


@atexit.register
def _drain_at_exit() -> None:
    shutdown_all()


__getattr__ = renamed(__name__, {"PaidJob": "FocusJob"}, globals())
