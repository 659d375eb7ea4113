"""The lazy account of a WSGI request: ``environ["focus.account"]`` (and Flask-Focus's
``current_account``), a Werkzeug ``LocalProxy`` that finds the account on first use.

Werkzeug's own ``LocalProxy(callable)`` builds a closure per proxy and routes every
operation through a descriptor that looks the object up and binds a method to it: a
request that reads ``if account`` and ``account.clerk_id`` paid for that twice. These
subclasses answer truth and attribute reads themselves, from one lookup each, and are
still ``LocalProxy`` instances (``_get_current_object()``, comparisons, ``repr`` as before).

The context behind the proxy stays at ``environ["focus"]`` after the response, and the
proxy keeps reading the account (:meth:`~focus_middleware.wsgi.WSGIFocusContext.let_go`).
"""

from __future__ import annotations

from typing import Any, Protocol

from werkzeug.local import LocalProxy

from focus_middleware.models import FocusAccount


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
    use)."""

    __slots__ = ()

    def _find_account(self) -> FocusAccount | None:
        ctx: _HasAccount = _wrapped_of(self)
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


__all__ = ["AccountProxy", "FastProxy", "new_account_proxy"]
