"""Guards for Starlette and FastAPI endpoints: ``@require_account``, ``@require_credits(n)``.

A guard asks the core (:func:`focus_middleware.access.refusal`) whether the request may run
the endpoint, from what ``FocusMiddleware`` already resolved: no I/O, so the same wrapper
serves sync endpoints (which Starlette runs in a thread) and async ones, and methods of an
``HTTPEndpoint``. A refusal becomes a Starlette ``Response`` through
:func:`focus_middleware.asgi.to_response` and is returned instead of calling the endpoint.

The request is found among the endpoint's arguments. A FastAPI endpoint that does not
declare a ``Request`` parameter gets one added to the signature FastAPI reads (as a
keyword-only ``_focus_request``, removed again before the endpoint is called), so guards
work on any FastAPI endpoint without changing it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, overload

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from focus_middleware.access import ACCOUNT, Requirement, refusal
from focus_middleware.asgi.middleware import focus_context, to_response
from focus_middleware.openapi import mark

P = ParamSpec("P")
R = TypeVar("R")

_INJECTED = "_focus_request"


def check(request: HTTPConnection, requirement: Requirement = ACCOUNT) -> Response | None:
    """The response to send instead of running a protected endpoint, or None. Usable
    directly in code that guards itself (``if (r := check(request)) is not None: return r``)."""
    ctx = focus_context(request)
    spec = refusal(ctx.facts, ctx.outcome, ctx.config, requirement, page=ctx.middleware.insufficient_credits_page,
                   wallets=ctx.resolver)
    return None if spec is None else to_response(spec)


@overload
def require_account(func: Callable[P, R], /) -> Callable[P, R | Response]: ...
@overload
def require_account(func: None = None, /) -> Callable[[Callable[P, R]], Callable[P, R | Response]]: ...


def require_account(func: Callable[P, R] | None = None, /) -> Any:
    """The endpoint runs only for a request with a Focus account (``@require_account`` or
    ``@require_account()``)."""
    if func is None:
        return lambda f: _guard(f, ACCOUNT)
    return _guard(func, ACCOUNT)


def require_credits(credits: int, *, action: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """The endpoint runs only if the account's cached wallet holds at least ``credits``.

    A soft check that keeps a user from starting what they cannot pay for; the job
    reservation (``paid``) stays the authority. ``action`` names the work in the 402
    (default: the endpoint's name).
    """
    Requirement(protection="credits", credits=credits)  # validate now, at import time

    def decorate(func: Callable[P, R]) -> Callable[P, R | Response]:
        name = action or getattr(func, "__name__", "This action").replace("_", " ")
        return _guard(func, Requirement(protection="credits", credits=credits, action=name))

    return decorate


def _guard(func: Callable[P, R], requirement: Requirement) -> Callable[P, R | Response]:
    injected = _needs_request_param(func)
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_guarded(*args: Any, **kwargs: Any) -> Any:
            refused = check(_take_request(args, kwargs, injected), requirement)
            if refused is not None:
                return refused
            return await func(*args, **kwargs)

        guarded: Callable[..., Any] = async_guarded
    else:

        @functools.wraps(func)
        def sync_guarded(*args: Any, **kwargs: Any) -> Any:
            refused = check(_take_request(args, kwargs, injected), requirement)
            if refused is not None:
                return refused
            return func(*args, **kwargs)

        guarded = sync_guarded
    if injected:
        guarded.__signature__ = _with_request_param(func)  # type: ignore[attr-defined]
    mark(guarded, requirement)  # for FastAPI's OpenAPI document (focus_openapi)
    return guarded


def _take_request(args: tuple[Any, ...], kwargs: dict[str, Any], injected: bool) -> HTTPConnection:
    if injected and _INJECTED in kwargs:
        request: HTTPConnection = kwargs.pop(_INJECTED)
        return request
    for value in args:
        if isinstance(value, HTTPConnection):
            return value
    for value in kwargs.values():
        if isinstance(value, HTTPConnection):
            return value
    raise TypeError("a Focus guard could not find the request among the endpoint's arguments")


def _is_request_param(param: inspect.Parameter) -> bool:
    if param.name in ("request", "websocket"):
        return True
    annotation = param.annotation
    if isinstance(annotation, str):
        return annotation.rsplit(".", 1)[-1] in ("Request", "HTTPConnection", "WebSocket")
    return isinstance(annotation, type) and issubclass(annotation, HTTPConnection)


def _needs_request_param(func: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return not any(_is_request_param(p) for p in params)


def _with_request_param(func: Callable[..., Any]) -> inspect.Signature:
    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    extra = inspect.Parameter(_INJECTED, inspect.Parameter.KEYWORD_ONLY, annotation=Request)
    at = next((i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_KEYWORD), len(params))
    params.insert(at, extra)
    return signature.replace(parameters=params)


__all__ = ["check", "require_account", "require_credits"]
