"""Guards for WSGI views: ``@require_account``, ``@require_credits(n)``, ``@paid(...)``.

The same three guards as the ASGI adapter's, asking the same core questions
(:meth:`WSGIFocusContext.check <focus_middleware.wsgi.WSGIFocusContext.check>` and
:meth:`~focus_middleware.wsgi.WSGIFocusContext.open_job`), for the two shapes a WSGI view
takes:

- a view taking a Werkzeug ``Request`` (anywhere among its arguments, so methods work
  too) and returning a response: a refusal is returned as a Werkzeug ``Response``;
- a WSGI application ``(environ, start_response)``: a refusal is sent through
  ``start_response``.

The guards need ``FocusWSGIMiddleware`` around the app; a paid view needs it outermost,
since the middleware settles the job once the response is over.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from werkzeug.wrappers import Request, Response

from focus_middleware.access import ACCOUNT, Requirement, requirement_for
from focus_middleware.jobs import FocusJob, PaidRoute
from focus_middleware.responses import ResponseSpec
from focus_middleware.wsgi.preserve import resolve as keep_form
from focus_middleware.wsgi.middleware import JOB_KEY, WSGIFocusContext, send_spec, to_response, wsgi_context

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
else:
    StartResponse = Callable[..., Any]
    WSGIEnvironment = dict[str, Any]

P = ParamSpec("P")
R = TypeVar("R")


class _Call:
    """Where a guarded view's request is, and how to answer it instead of the view."""

    __slots__ = ("environ", "start_response")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.start_response: StartResponse | None = None
        values = (*args, *kwargs.values())
        for index, value in enumerate(values):
            if isinstance(value, Request):
                self.environ: WSGIEnvironment = value.environ
                return
            if isinstance(value, dict) and "wsgi.version" in value:
                self.environ = value
                rest = values[index + 1:]
                self.start_response = kwargs.get("start_response") or (rest[0] if rest else None)
                return
        raise TypeError("a Focus guard found neither a werkzeug Request nor a WSGI environ among the view's arguments")

    def context(self) -> WSGIFocusContext:
        return wsgi_context(self.environ)

    def refuse(self, spec: ResponseSpec, view: object = None) -> Response | Iterable[bytes]:
        spec = keep_form(spec, self.environ, view)  # a form post's fields survive the sign-in
        if self.start_response is None:
            return to_response(spec)
        return send_spec(spec, self.start_response)


@overload
def require_account(func: Callable[P, R], /) -> Callable[P, R | Response | Iterable[bytes]]: ...
@overload
def require_account(func: None = None, /) -> Callable[[Callable[P, R]], Callable[P, R | Response | Iterable[bytes]]]: ...


def require_account(func: Callable[P, R] | None = None, /) -> Any:
    """The view runs only for a request with a Focus account (``@require_account`` or
    ``@require_account()``)."""
    if func is None:
        return lambda f: _guard(f, ACCOUNT)
    return _guard(func, ACCOUNT)


def require_credits(credits: int, *, action: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R | Response | Iterable[bytes]]]:
    """The view runs only if the account's cached wallet holds at least ``credits`` (a
    soft check; ``paid`` reservations stay the authority). ``action`` names the work in
    the 402 (default: the view's name)."""
    requirement_for(credits=credits)  # a bad number fails at decoration

    def decorate(func: Callable[P, R]) -> Callable[P, R | Response | Iterable[bytes]]:
        return _guard(func, requirement_for(func, credits=credits, action=action))

    return decorate


def _guard(func: Callable[P, R], requirement: Requirement) -> Callable[P, R | Response | Iterable[bytes]]:
    @functools.wraps(func)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R | Response | Iterable[bytes]:
        call = _Call(args, kwargs)
        refused = call.context().check(requirement)
        if refused is not None:
            return call.refuse(refused, func)
        return func(*args, **kwargs)

    return guarded


def paid(*, action: str, cost_estimate: int, app: str | None = None, description: str | None = None,
         label: str | None = None, usual_cost: int | None = None,
         max_cost: int | None = None, result_url: str | Callable[[str], str] | None = None,
         ) -> Callable[[Callable[P, R]], Callable[P, R | Response | Iterable[bytes]]]:
    """A paid view: ``cost_estimate`` credits are reserved before it runs (402 if the user
    has too few, and the view never runs); the view finds the job at
    ``environ["focus.job"]`` (:func:`focus_job`) and may set ``actual_cost`` and
    ``metadata``. The middleware completes the job once the whole body went out, or fails
    it with a refund. ``max_cost``, ``result_url`` and idempotency keys (the
    ``Idempotency-Key`` header or the form's hidden field) work as for the ASGI ``paid``."""
    route = PaidRoute(action=action, cost_estimate=cost_estimate, app=app, description=description, label=label,
                      usual_cost=usual_cost, max_cost=max_cost, result_url=result_url)

    def decorate(func: Callable[P, R]) -> Callable[P, R | Response | Iterable[bytes]]:
        @functools.wraps(func)
        def paid_view(*args: P.args, **kwargs: P.kwargs) -> R | Response | Iterable[bytes]:
            call = _Call(args, kwargs)
            ctx = call.context()
            opened = ctx.open_job(route)
            if isinstance(opened, ResponseSpec):
                return call.refuse(opened, func)
            try:
                return func(*args, **kwargs)
            except BaseException as error:
                ctx.raised = error
                raise

        return paid_view

    return decorate


def focus_job(environ: WSGIEnvironment) -> FocusJob:
    """The job of the paid view handling this request."""
    job = environ.get(JOB_KEY)
    if not isinstance(job, FocusJob):
        raise RuntimeError("no paid job for this request: decorate the view with @paid(...)")
    return job


__all__ = ["focus_job", "paid", "require_account", "require_credits"]
