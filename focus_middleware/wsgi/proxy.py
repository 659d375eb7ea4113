"""The lazy account of a WSGI request: ``environ["focus.account"]`` (and Flask-Focus's
``current_account``), a Werkzeug ``LocalProxy`` that finds the account on first use.

Werkzeug's own ``LocalProxy(callable)`` builds a closure per proxy and routes every
operation through a descriptor that looks the object up and binds a method to it: a
request that reads ``if account`` and ``account.clerk_id`` paid for that twice. These
subclasses answer truth and attribute reads themselves, from one lookup each, and are
still ``LocalProxy`` instances (``_get_current_object()``, comparisons, ``repr`` as before).

Once a response is over the middleware lets go of the request's context
(:meth:`~focus_middleware.wsgi.WSGIFocusContext.release`): ``environ["focus"]`` and
``environ["focus.account"]`` then hold :data:`RESPONSE_OVER`, which refuses every use with
an error that says why, instead of a context kept alive by a reference cycle.
"""

from __future__ import annotations

from typing import Any, Protocol

from werkzeug.local import LocalProxy

from focus_middleware.models import FocusAccount

RESPONSE_OVER_MESSAGE = ("this request's response is over, and Focus let go of its context: read the account "
                         "while the request runs, or keep environ['focus'] (the context) or the account itself, "
                         "not the environ")


class _HasAccount(Protocol):
    @property
    def account(self) -> FocusAccount | None: ...


class FastProxy(LocalProxy[FocusAccount | None]):
    """A ``LocalProxy`` whose truth and attribute reads cost one lookup of the account
    (:meth:`_find_account`, which a subclass finds from ``wrapped``)."""

    __slots__ = ()

    def __init__(self, wrapped: object) -> None:
        _set_wrapped(self, wrapped)

    def _find_account(self) -> FocusAccount | None:
        raise NotImplementedError

    def _get_current_object(self) -> FocusAccount | None:
        return type(self)._find_account(self)

    def __bool__(self) -> bool:
        return type(self)._find_account(self) is not None  # an account is always true

    def __getattribute__(self, name: str) -> Any:
        # Every attribute but the proxy's own is the account's (as LocalProxy has it), found
        # here rather than after a failed lookup on the proxy (__getattr__), which costs more.
        if name in _OWN:
            return object.__getattribute__(self, name)
        return getattr(type(self)._find_account(self), name)


_OWN = frozenset({"_get_current_object", "_LocalProxy__wrapped", "_find_account"})


class AccountProxy(FastProxy):
    """``environ["focus.account"]``: the account of one request's context (resolved on first
    use); without a context, :data:`RESPONSE_OVER`."""

    __slots__ = ()

    def _find_account(self) -> FocusAccount | None:
        ctx: _HasAccount | None = _wrapped_of(self)
        if ctx is None:
            raise RuntimeError(RESPONSE_OVER_MESSAGE)
        return ctx.account


# The slot LocalProxy.__init__ fills, filled and read without it (no closure per proxy).
_set_wrapped = getattr(LocalProxy, "_LocalProxy__wrapped").__set__
_wrapped_of = getattr(LocalProxy, "_LocalProxy__wrapped").__get__
_new = object.__new__


def new_account_proxy(ctx: _HasAccount) -> AccountProxy:
    """``AccountProxy(ctx)`` without a Python ``__init__`` call (one per request)."""
    proxy: AccountProxy = _new(AccountProxy)
    _set_wrapped(proxy, ctx)
    return proxy


class ResponseOver(AccountProxy):
    """The type of :data:`RESPONSE_OVER`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<Focus: this request's response is over>"


RESPONSE_OVER = ResponseOver(None)
"""What ``environ["focus"]`` and ``environ["focus.account"]`` hold once the response is
over: any use raises ``RuntimeError`` with :data:`RESPONSE_OVER_MESSAGE`."""

__all__ = ["RESPONSE_OVER", "RESPONSE_OVER_MESSAGE", "AccountProxy", "FastProxy", "ResponseOver", "new_account_proxy"]
