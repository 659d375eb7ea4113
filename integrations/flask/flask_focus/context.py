"""Where the account appears in Flask: ``request.focus_account``, ``g.focus_account`` and
the ``current_account`` proxy (views and Jinja templates), all resolved on first access.

``request.focus_account`` and ``g.focus_account`` are properties of the app's request and
app-context-globals classes, which ``init_app`` derives from whatever the app uses (Flask's
documented ``request_class`` and ``app_ctx_globals_class`` hooks, per app; nothing global
is patched). They hold the :class:`~focus_middleware.models.FocusAccount` itself, or None.
An app that sets its own ``request_class`` after ``init_app`` should derive it from
:class:`FocusRequestMixin` to keep them.
``current_account`` is a Werkzeug ``LocalProxy``: test it for truth (``if current_account``),
never ``is None``, as with Flask-Login's ``current_user``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import has_request_context, request

from focus_middleware.jobs import FocusJob
from focus_middleware.models import FocusAccount
from focus_middleware.request_plan import Reason
from focus_middleware.wsgi.proxy import FastProxy

from flask_focus.state import current_context, request_context

if TYPE_CHECKING:
    from werkzeug.sansio.request import Request as _SansIORequest

    from focus_middleware.wsgi import FocusWSGIMiddleware


class CurrentAccount(FastProxy):
    """The type of ``current_account``: the account of the request being handled, None
    outside a request. As with any ``LocalProxy``, it is false where it cannot be found
    (an app without Flask-Focus) and raises on other uses there."""

    __slots__ = ()

    def _find_account(self) -> FocusAccount | None:
        try:  # rather than has_request_context() first: one context-variable read, not two
            flask_request = request._get_current_object()  # type: ignore[attr-defined]
        except RuntimeError:
            return None  # outside a request
        return request_context(flask_request).account

    def __bool__(self) -> bool:
        try:
            return type(self)._find_account(self) is not None
        except RuntimeError:
            return False


current_account: FocusAccount | None = CurrentAccount(current_context)  # type: ignore[assignment]
"""The request's account, resolved on first use; falsy without one."""


class FocusRequestMixin:
    """Adds the Focus properties to the app's request class."""

    environ: Any
    _focus_engine: FocusWSGIMiddleware | None = None
    """The engine of the app whose request class ``init_app`` derived (None on a class an
    app derived itself, which may serve several apps): its requests find their context
    without looking the app up."""

    @property
    def focus_account(self) -> FocusAccount | None:
        """The request's account, or None (resolved on first access, then kept)."""
        return request_context(self).account  # type: ignore[arg-type]

    @property
    def focus_reason(self) -> Reason:
        """Why there is no account (``anonymous``, ``expired``, ``rejected``,
        ``unavailable``, ``cross_origin``), or ``authenticated``."""
        return request_context(self).reason  # type: ignore[arg-type]

    @property
    def focus_job(self) -> FocusJob | None:
        """The paid view's job: set ``actual_cost`` and ``metadata`` on it."""
        return request_context(self).job  # type: ignore[arg-type]


class FocusGlobalsMixin:
    """Adds ``focus_account`` to the app's ``g``."""

    @property
    def focus_account(self) -> FocusAccount | None:
        return current_context().account if has_request_context() else None


def _derive(base: type[Any], mixin: type[Any], name: str, **attributes: Any) -> type[Any]:
    if issubclass(base, mixin):
        return base
    return type(name, (mixin, base), {"__module__": __name__, **attributes})


def with_request_mixin(base: type[_SansIORequest], engine: FocusWSGIMiddleware | None = None) -> type[Any]:
    """``base`` with the Focus properties: a class of one app's own, which knows its
    ``engine``; ``base`` itself if it has them already."""
    return _derive(base, FocusRequestMixin, f"Focus{base.__name__}", _focus_engine=engine)


def with_globals_mixin(base: type[Any]) -> type[Any]:
    return _derive(base, FocusGlobalsMixin, f"Focus{base.__name__}")


__all__ = ["FocusGlobalsMixin", "FocusRequestMixin", "current_account"]
