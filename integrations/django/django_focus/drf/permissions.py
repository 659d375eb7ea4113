"""DRF permissions: ``IsFocusAccount`` and ``HasCredits(n)``.

Both answer True or False and never raise, so they compose with DRF's ``&``, ``|`` and
``~`` like any permission. When one refuses, the exception handler
(:mod:`django_focus.drf.exceptions`) answers with the core's body: 401 for a request
without an account, and for ``HasCredits`` the 402 JSON (``required``, ``available``,
``purchase_url``; a page for a browser navigation), or 503 while only a stale wallet is
known.

``HasCredits(5) | IsAdminUser`` lets a staff user through whatever their balance, and
anyone else with at least 5 credits; a non-staff account with fewer gets the 402.
``HasCredits`` is a soft check (the cached wallet); a paid view's reservation stays the
authority. Under ``~`` a refusal is DRF's plain 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.permissions import NOT, BasePermission, OperationHolderMixin, SingleOperandHolder
from rest_framework.request import Request

if TYPE_CHECKING:
    from rest_framework.views import APIView

from focus_middleware.access import requirement_for
from focus_middleware.models import FocusAccount

from django_focus.decorators import refusal_of
from django_focus.drf.context import django_request, known_context
from django_focus.drf.exceptions import REFUSAL_ATTR


def _account(request: Request) -> FocusAccount | None:
    auth = request.auth
    return auth if isinstance(auth, FocusAccount) else None


class IsFocusAccount(BasePermission):
    """The request is authenticated by a Focus credential (not by another class)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _account(request) is not None


class HasCredits(OperationHolderMixin, BasePermission):
    """``HasCredits(5)``: a Focus account whose cached wallet holds at least 5 credits.
    ``action`` names the work in the 402 (default: the view's name)."""

    def __init__(self, credits: int, action: str | None = None) -> None:
        self.requirement = requirement_for(credits=credits)  # a bad number fails at import time
        self.action = action

    def __call__(self) -> HasCredits:
        """DRF instantiates every entry of ``permission_classes``: an instance stands for itself."""
        return self

    def __invert__(self) -> SingleOperandHolder:
        return SingleOperandHolder(_Not, self)  # type: ignore[arg-type]  # DRF calls either; stubs know classes only

    def has_permission(self, request: Request, view: APIView) -> bool:
        account = _account(request)
        ctx = known_context(request)
        if account is None or ctx is None or ctx.proceed is None:
            return False
        requirement = requirement_for(credits=self.requirement.credits, action=self.action or view.get_view_name())
        spec = refusal_of(ctx, ctx.proceed.outcome, requirement)
        if spec is None:
            return True
        django_request(request).__dict__[REFUSAL_ATTR] = spec
        return False

    def __repr__(self) -> str:
        return f"HasCredits({self.requirement.credits})"


class _Not(NOT):
    """``~HasCredits(n)``: its refusal is not the one to report."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        allowed: bool = super().has_permission(request, view)
        django_request(request).__dict__.pop(REFUSAL_ATTR, None)
        return allowed

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        allowed: bool = super().has_object_permission(request, view, obj)
        return allowed


__all__ = ["HasCredits", "IsFocusAccount"]
