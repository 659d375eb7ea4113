"""Where a wrapped Starlette or FastAPI endpoint's request is, for the ASGI decorators.

The guards and ``@paid`` need the request, which is somewhere among the endpoint's
arguments (first for a function, second for an ``HTTPEndpoint`` method, any keyword for
FastAPI). A FastAPI endpoint that declares no ``Request`` parameter gets one added to the
signature FastAPI reads (a keyword-only ``_focus_request``), taken out again before the
endpoint is called: the decorators work on any endpoint without changing it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from starlette.requests import HTTPConnection, Request

INJECTED_PARAM = "_focus_request"
"""The keyword-only parameter added for an endpoint that declares no request."""


class EndpointRequest:
    """The request of calls to ``endpoint``, once wrapped: :meth:`take` finds it among a
    call's arguments, :meth:`declare` gives the wrapper the signature FastAPI must read."""

    __slots__ = ("endpoint", "injected")

    def __init__(self, endpoint: Callable[..., Any]) -> None:
        self.endpoint = endpoint
        self.injected = _needs_request_param(endpoint)
        """True when the endpoint declares no request and the wrapper adds one."""

    def take(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> HTTPConnection:
        """The call's request; an added one is removed from ``kwargs`` (the endpoint does
        not take it)."""
        if self.injected and INJECTED_PARAM in kwargs:
            request: HTTPConnection = kwargs.pop(INJECTED_PARAM)
            return request
        for value in (*args, *kwargs.values()):
            if isinstance(value, HTTPConnection):
                return value
        raise TypeError("a Focus guard could not find the request among the endpoint's arguments")

    def declare(self, wrapper: Callable[..., Any]) -> None:
        """Give ``wrapper`` the endpoint's signature with the added request, if one is added."""
        if self.injected:
            wrapper.__signature__ = _with_request_param(self.endpoint)  # type: ignore[attr-defined]


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
    extra = inspect.Parameter(INJECTED_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=Request)
    at = next((i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_KEYWORD), len(params))
    params.insert(at, extra)
    return signature.replace(parameters=params)


__all__ = ["INJECTED_PARAM", "EndpointRequest"]
