"""The Django user a request's Focus credential stands for.

Two shapes, chosen by ``FOCUS["link_users"]``:

- off (the default): a :class:`FocusUser`, a user object with no database row, as
  Starlette's middleware gives ``request.user``. It is authenticated, never staff, holds no
  permissions, and wraps the account (``user.account``). No table is needed.
- on: the ``AUTH_USER_MODEL`` row linked to the account's Clerk user id
  (:mod:`django_focus.users`), found or created through the authentication backends
  (``django_focus.users.backends.FocusBackend``), so a project may replace the backend.

Either way the user is derived from the credential on every request and cached on the
request only: no Django ``login()``, so no session that would outlive a Focus sign-out.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import aauthenticate, authenticate
from django.http import HttpRequest

from focus_middleware.models import FocusAccount

from django_focus.conf import user_linking
from django_focus.request import CONTEXT_ATTR, FocusContext

USER_ATTR = "_focus_user"
"""Where the request keeps the user derived from its credential (None: none)."""


class FocusUser:
    """A signed-in Focus account where Django expects a user, without a database row."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, account: FocusAccount) -> None:
        self.account = account

    @property
    def username(self) -> str:
        return self.account.clerk_id

    def get_username(self) -> str:
        return self.account.clerk_id

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, module: str) -> bool:
        return False

    def get_all_permissions(self, obj: Any = None) -> set[str]:
        return set()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FocusUser) and other.account.clerk_id == self.account.clerk_id

    def __hash__(self) -> int:
        return hash(self.account.clerk_id)

    def __str__(self) -> str:
        return self.account.clerk_id

    def __repr__(self) -> str:
        return f"FocusUser({self.account.clerk_id!r})"


def _context(request: HttpRequest) -> FocusContext | None:
    ctx = getattr(request, CONTEXT_ATTR, None)
    return ctx if isinstance(ctx, FocusContext) else None


def _cached(request: HttpRequest, account: FocusAccount) -> tuple[bool, Any]:
    found = request.__dict__.get(USER_ATTR)
    if found is not None and found[0] == account.clerk_id:
        return True, found[1]
    return False, None


def user_for_account(request: HttpRequest, account: FocusAccount) -> Any:
    """The Django user for ``account`` (blocking: the database, when linking); None when
    the linked row refuses it (inactive, or its username taken by a row it does not own)."""
    hit, user = _cached(request, account)
    if hit:
        return user
    if user_linking().enabled:
        user = authenticate(request, focus_account=account)
    else:
        user = FocusUser(account)
    request.__dict__[USER_ATTR] = (account.clerk_id, user)
    return user


async def auser_for_account(request: HttpRequest, account: FocusAccount) -> Any:
    hit, user = _cached(request, account)
    if hit:
        return user
    if (await sync_to_async(user_linking)()).enabled:
        user = await aauthenticate(request, focus_account=account)
    else:
        user = FocusUser(account)
    request.__dict__[USER_ATTR] = (account.clerk_id, user)
    return user


def focus_user(request: HttpRequest) -> Any:
    """The user the request's Focus credential stands for, or None (no account, or no
    ``FocusMiddleware`` in front). Blocking."""
    ctx = _context(request)
    if ctx is None:
        return None
    account = ctx.account()
    return user_for_account(request, account) if isinstance(account, FocusAccount) else None


async def afocus_user(request: HttpRequest) -> Any:
    """:func:`focus_user` for async code (``request.auser()``)."""
    ctx = _context(request)
    if ctx is None:
        return None
    account = await ctx.aaccount()
    return await auser_for_account(request, account) if isinstance(account, FocusAccount) else None


__all__ = ["FocusUser", "afocus_user", "auser_for_account", "focus_user", "user_for_account"]
