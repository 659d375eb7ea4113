"""Mixins for class-based views, the counterparts of :mod:`django_focus.decorators`.

Put them leftmost, as Django's ``LoginRequiredMixin``::

    class Render(PaidMixin, View):
        paid_action = "render"
        paid_cost_estimate = 5

        def post(self, request):
            request.focus_job.actual_cost = 3
            ...

They work for sync views and async ones (a view whose handlers are all ``async def``):
``dispatch`` then returns a coroutine, as Django's ``View`` expects, and the account is
resolved without blocking the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django.http import HttpRequest, HttpResponseBase

from focus_middleware.access import ACCOUNT, Requirement, requirement_for
from focus_middleware.jobs import PaidRoute

from django_focus.decorators import acheck, check
from django_focus.paid import aopen_job, arun_paid, open_job, run_paid

if TYPE_CHECKING:
    from django.views import View

    _Base = View
else:
    _Base = object


class _FocusGuardMixin(_Base):
    def focus_requirement(self) -> Requirement:
        raise NotImplementedError

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if self.view_is_async:
            return self._focus_adispatch(request, *args, **kwargs)
        refused = check(request, self.focus_requirement())
        if refused is not None:
            return refused
        return super().dispatch(request, *args, **kwargs)

    async def _focus_adispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        refused = await acheck(request, self.focus_requirement())
        if refused is not None:
            return refused
        return await cast(Awaitable[Any], super().dispatch(request, *args, **kwargs))


class FocusLoginRequiredMixin(_FocusGuardMixin):
    """The view runs only for a request with a Focus account."""

    def focus_requirement(self) -> Requirement:
        return ACCOUNT


class RequireCreditsMixin(_FocusGuardMixin):
    """The view runs only if the cached wallet holds ``required_credits``; ``credits_action``
    names the work in the 402 (default: the view class's name)."""

    required_credits: ClassVar[int] = 0
    credits_action: ClassVar[str | None] = None

    def focus_requirement(self) -> Requirement:
        return requirement_for(type(self), credits=self.required_credits, action=self.credits_action)


class PaidMixin(_Base):
    """Every request to the view is paid work (``paid_action``, ``paid_cost_estimate``;
    ``paid_app`` and ``paid_description`` optional), as with the ``paid`` decorator."""

    paid_action: ClassVar[str] = ""
    paid_cost_estimate: ClassVar[int] = 0
    paid_app: ClassVar[str | None] = None
    paid_description: ClassVar[str | None] = None
    paid_max_cost: ClassVar[int | None] = None
    """The most a job is charged (``paid(max_cost=...)``)."""
    paid_result_url: ClassVar[str | None] = None
    """Where a browser repeating the form (same idempotency key) is sent (``paid(result_url=...)``)."""

    def paid_route(self) -> PaidRoute:
        return PaidRoute(action=self.paid_action, cost_estimate=self.paid_cost_estimate, app=self.paid_app,
                         description=self.paid_description, max_cost=self.paid_max_cost,
                         result_url=self.paid_result_url)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if self.view_is_async:
            return self._paid_adispatch(request, *args, **kwargs)
        opened = open_job(request, self.paid_route())
        if isinstance(opened, HttpResponseBase):
            return opened
        return run_paid(opened, lambda: super(PaidMixin, self).dispatch(request, *args, **kwargs))

    async def _paid_adispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        opened = await aopen_job(request, self.paid_route())
        if isinstance(opened, HttpResponseBase):
            return opened
        return await arun_paid(opened, cast(Awaitable[Any], super().dispatch(request, *args, **kwargs)))


__all__ = ["FocusLoginRequiredMixin", "PaidMixin", "RequireCreditsMixin"]
