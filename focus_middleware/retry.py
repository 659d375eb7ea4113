"""When to repeat a call, and how to recover from not knowing whether it landed — once,
for both clients.

The rules are written as generators ("flows") that yield what they need done —
:class:`Send` a call, :class:`Sleep` a while — and receive the outcome. The blocking and
the async client are thin drivers of the same flows, so retry behaviour cannot drift
between them, and the flows are testable without a network.

The rules:

- A call that is safe to repeat (GETs) is retried after connect errors, timeouts, 5xx
  and 429, with capped full-jitter backoff; a ``Retry-After`` is honoured when it is
  within the cap (a longer one is not worth waiting for: the error goes to the caller).
- Any call is resent after a failure that proves it was never delivered (the connection
  could not be made).
- A state-changing call whose outcome is unknown (timeout after sending, dropped
  connection, 5xx) is never resent blindly. Reserving credits: look for the job by its
  ``request_id`` among the started jobs, and only resend when it is not there. Settling:
  look at the job; resend only while it is still ``started``; a 409 after our own
  ambiguous attempt counts as success if the job shows what we asked for.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeAlias, TypeVar

from focus_middleware import api_contract
from focus_middleware.clock import Clock
from focus_middleware.api_contract import Call, Reply
from focus_middleware.errors import ConflictError, FocusError, RateLimitedError, UnavailableError
from focus_middleware.models import JOB_COMPLETED, JOB_STARTED, CreatedJob, Job, SettledJob

T = TypeVar("T")
logger = logging.getLogger("focus_middleware.client")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. ``max_retries`` counts repeats after the first attempt.

    ``grace_cap`` bounds the pause before checking on a call that timed out: a request
    that outlived our patience may still be running, and looking too early would miss it.
    """

    max_retries: int = 2
    backoff_base: float = 0.1
    backoff_cap: float = 2.0
    retry_after_cap: float = 5.0
    grace_cap: float = 2.0
    lookup_limit: int = 200

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return rng.uniform(0.0, min(self.backoff_cap, self.backoff_base * (2**attempt)))


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``call`` with ``token`` as bearer (when the call is authenticated)."""

    call: Call[Any]
    token: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """No answer. ``sent`` is False only when the request provably never left (the
    connection could not be made); ``timeout`` tells a timeout from a broken connection."""

    sent: bool
    timeout: bool
    detail: str


Step: TypeAlias = Send | Sleep
SendResult: TypeAlias = Reply | TransportFailure
Flow: TypeAlias = Generator[Step, SendResult | None, T]


@dataclass(slots=True)
class Context:
    """What the flows need from the client that runs them."""

    base_url: str
    policy: RetryPolicy
    clock: Clock
    timeout: float
    rng: random.Random = field(default_factory=random.Random)


# -- primitives --------------------------------------------------------------------------------


def _send(call: Call[Any], token: str | None) -> Generator[Step, SendResult | None, SendResult]:
    outcome = yield Send(call, token)
    assert outcome is not None, "a driver must answer Send with an outcome"
    return outcome


def _sleep(seconds: float) -> Generator[Step, SendResult | None, None]:
    if seconds > 0:
        yield Sleep(seconds)


def _result(call: Call[T], outcome: SendResult, ctx: Context) -> T:
    if isinstance(outcome, TransportFailure):
        what = "timed out" if outcome.timeout else "failed"
        raise UnavailableError(
            f"{call.name}: {what} ({outcome.detail})", ambiguous=outcome.sent and not call.retry_safe
        )
    return api_contract.interpret(call, outcome, base_url=ctx.base_url, now=ctx.clock.time())


def _retry_delay(call: Call[Any], exc: FocusError, attempt: int, ctx: Context) -> float | None:
    """How long to wait before repeating ``call`` after ``exc``; None: do not repeat."""
    policy = ctx.policy
    if attempt >= policy.max_retries:
        return None
    backoff = policy.backoff(attempt, ctx.rng)
    if isinstance(exc, RateLimitedError):
        if not call.retry_safe:
            return None
        if exc.retry_after is None:
            return backoff
        return exc.retry_after if exc.retry_after <= policy.retry_after_cap else None
    if isinstance(exc, UnavailableError) and not exc.ambiguous:
        hint = exc.retry_after
        if hint is not None and hint <= policy.retry_after_cap:
            return max(backoff, hint)
        return backoff
    return None


def request(call: Call[T], token: str | None, ctx: Context) -> Flow[T]:
    """Send ``call`` and read its answer, repeating it only where that is safe."""
    attempt = 0
    while True:
        outcome = yield from _send(call, token)
        try:
            return _result(call, outcome, ctx)
        except (UnavailableError, RateLimitedError) as exc:
            delay = _retry_delay(call, exc, attempt, ctx)
            if delay is None:
                raise
            logger.debug("focus: %s failed (%r), retry %d in %.2fs", call.name, exc, attempt + 1, delay)
        attempt += 1
        yield from _sleep(delay)


def _grace(exc: UnavailableError, attempt: int, ctx: Context) -> float:
    """The pause before looking at the outcome of an ambiguous call. A timeout or a
    gateway error (502/504) may mean it is still running upstream: give it as long again as
    we waited (capped) to land, so the lookup sees it."""
    policy = ctx.policy
    pause = policy.backoff(attempt, ctx.rng)
    if exc.status is None or exc.status in (502, 504):
        pause = max(pause, min(ctx.timeout, policy.grace_cap))
    if exc.retry_after is not None:
        pause = max(pause, min(exc.retry_after, policy.retry_after_cap))
    return pause


def _oldest_first(jobs: list[Job]) -> list[Job]:
    # The service lists newest first; reversed, ties on the timestamp stay oldest first.
    return sorted(reversed(jobs), key=lambda j: j.created_at or _EPOCH)


# -- reserving credits ---------------------------------------------------------------------------


def new_request_id() -> str:
    return uuid.uuid4().hex


def create_job(
    app: str,
    action: str,
    cost_estimate: int,
    metadata: Mapping[str, Any] | None,
    request_id: str | None,
    token: str | None,
    ctx: Context,
) -> Flow[CreatedJob]:
    """Reserve credits exactly once, as far as the client can tell.

    The ``request_id`` (given, from ``metadata``, or new) goes into the job's metadata so
    that after an ambiguous failure the job can be recognised among the started ones.
    Only when it is not there is the reservation sent again. Should a late attempt land
    anyway, the next lookup finds the duplicates and releases them (fail with refund).
    """
    meta = dict(metadata or {})
    rid = request_id or (meta.get("request_id") if isinstance(meta.get("request_id"), str) else None)
    rid = rid or new_request_id()
    meta["request_id"] = rid
    call = api_contract.create_job(app, action, cost_estimate, meta)
    unsure = False
    attempt = 0
    while True:
        try:
            created = yield from request(call, token, ctx)
        except UnavailableError as exc:
            if not exc.ambiguous:
                raise
            unsure = True
            yield from _sleep(_grace(exc, attempt, ctx))
            found = yield from _started_with(app, rid, token, ctx, exc)
            if found:
                keep, *extra = found
                logger.info("focus: reservation %s found after an ambiguous failure", keep.id)
                yield from _release(extra, token, ctx)
                return CreatedJob(keep.id, keep.status, None)
            if attempt >= ctx.policy.max_retries:
                raise exc
            attempt += 1
            continue
        if unsure:
            # An earlier attempt may have landed after our lookup: release it now.
            try:
                found = yield from _started_with(app, rid, token, ctx, None)
            except UnavailableError:
                found = []
            yield from _release([j for j in found if j.id != created.job_id], token, ctx)
        return created


def _started_with(
    app: str, rid: str, token: str | None, ctx: Context, cause: UnavailableError | None
) -> Flow[list[Job]]:
    """Our started jobs carrying ``request_id``, oldest first."""
    try:
        jobs = yield from request(api_contract.list_jobs(app, JOB_STARTED, ctx.policy.lookup_limit), token, ctx)
    except FocusError as exc:
        raise UnavailableError(
            "POST /api/jobs: the reservation's outcome is unknown (the lookup failed)", ambiguous=True
        ) from (cause or exc)
    return _oldest_first([j for j in jobs if j.request_id == rid])


def _release(duplicates: list[Job], token: str | None, ctx: Context) -> Flow[None]:
    for job in duplicates:
        try:
            yield from request(api_contract.fail_job(job.id, refund=True), token, ctx)
            logger.warning("focus: released duplicate reservation %s", job.id)
        except FocusError as exc:
            logger.warning("focus: could not release duplicate reservation %s (%r)", job.id, exc)


# -- settling -------------------------------------------------------------------------------------------


def complete_job(
    job_id: str, actual_cost: int, metadata: Mapping[str, Any] | None, token: str | None, ctx: Context
) -> Flow[SettledJob]:
    call = api_contract.complete_job(job_id, actual_cost, metadata)
    return settle(call, job_id, JOB_COMPLETED, actual_cost, token, ctx)


def fail_job(job_id: str, refund: bool, token: str | None, ctx: Context) -> Flow[SettledJob]:
    call = api_contract.fail_job(job_id, refund)
    return settle(call, job_id, "failed", None, token, ctx)


def _settled_as(job: Job, status: str, actual_cost: int | None) -> bool:
    if job.status != status:
        return False
    return actual_cost is None or job.actual_cost is None or job.actual_cost == actual_cost


def settle(
    call: Call[SettledJob], job_id: str, status: str, actual_cost: int | None, token: str | None, ctx: Context
) -> Flow[SettledJob]:
    """Complete or fail a job; after an unknown outcome, check before resending."""
    unsure = False
    attempt = 0
    while True:
        try:
            return (yield from request(call, token, ctx))
        except ConflictError as conflict:
            if not unsure:
                raise
            # Our own earlier attempt may be what the service is comparing against.
            job = yield from _find_job(job_id, token, ctx, None)
            if job is not None and _settled_as(job, status, actual_cost):
                return SettledJob(job.id, job.status, job.actual_cost, None)
            raise conflict
        except UnavailableError as exc:
            if not exc.ambiguous:
                raise
            unsure = True
            yield from _sleep(_grace(exc, attempt, ctx))
            job = yield from _find_job(job_id, token, ctx, exc)
            if job is None:
                raise UnavailableError(
                    f"{call.name}: the outcome is unknown (job {job_id} not found among recent jobs)", ambiguous=True
                ) from exc
            if _settled_as(job, status, actual_cost):
                logger.info("focus: settlement of %s confirmed after an ambiguous failure", job_id)
                return SettledJob(job.id, job.status, job.actual_cost, None)
            if job.status != JOB_STARTED:
                raise ConflictError(409, None, f"{call.name}: job {job_id} is already {job.status}") from exc
            if attempt >= ctx.policy.max_retries:
                raise exc
            attempt += 1


def _find_job(job_id: str, token: str | None, ctx: Context, cause: UnavailableError | None) -> Flow[Job | None]:
    """The job's current state: among the started ones first (the case that decides a
    resend), else among the most recent of any state."""
    limit = ctx.policy.lookup_limit
    try:
        for status in (JOB_STARTED, None):
            jobs = yield from request(api_contract.list_jobs(None, status, limit), token, ctx)
            for job in jobs:
                if job.id == job_id:
                    return job
    except FocusError as exc:
        raise UnavailableError(
            f"the outcome of settling job {job_id} is unknown (the lookup failed)", ambiguous=True
        ) from (cause or exc)
    return None


__all__ = [
    "Context",
    "Flow",
    "SendResult",
    "RetryPolicy",
    "Send",
    "Sleep",
    "TransportFailure",
    "create_job",
    "complete_job",
    "fail_job",
    "request",
    "settle",
]
