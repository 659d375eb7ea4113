"""Finding, creating and syncing the user row a Focus account is linked to.

- **Keyed by the Clerk user id only.** The first sight of an account creates a new row
  (with an unusable password) and its :class:`FocusLink`; a row that already exists is
  never adopted, whatever its email: an email address proves nothing about who owns a row
  here, and adopting by email would hand that row (its data, its permissions) to whoever
  holds the address on Focus.
- **The username** is ``focus:<clerk id>``: Django's username validator refuses ``:``, so
  no sign-up form can take it first. A user model whose ``USERNAME_FIELD`` is an email
  field gets the ``email`` claim instead; if that is missing, or a row already holds the
  username, the account is refused (:class:`LinkRefused`) rather than linked to it.
- **Kept in sync:** each request updates the fields ``FOCUS["user_claims"]`` maps from
  the verified session token's claims (a PAT carries none: nothing changes then), saving
  only what changed. ``FOCUS["staff"]`` grants ``is_staff``; nothing here revokes it (the
  ``focus_staff`` command does), and nothing from Focus ever sets it.
- Two first requests at once: the unique ``clerk_id`` lets one insert win; the other
  reads the winner's row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import IntegrityError, models, transaction

from focus_middleware.models import FocusAccount

from django_focus.conf import UserLinking
from django_focus.users.models import FocusLink

logger = logging.getLogger("django_focus")
USERNAME_PREFIX = "focus:"


class LinkRefused(Exception):
    """The account cannot be linked without taking over a row it does not own."""


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any] | None:
    try:
        found = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return found if isinstance(found, models.Field) and found.concrete and not found.is_relation else None


def synced_fields(model: type[models.Model], account: FocusAccount, claims_map: Mapping[str, str]) -> dict[str, str]:
    """Field -> value for every mapped claim the token carries as a string, on fields the
    model has, cut to the field's length."""
    claims = account.claims or {}
    values: dict[str, str] = {}
    for name, claim in claims_map.items():
        value = claims.get(claim)
        field = _field(model, name)
        if isinstance(value, str) and field is not None:
            limit = field.max_length
            values[name] = value[:limit] if limit else value
    return values


def _username(model: type[Any], account: FocusAccount, values: Mapping[str, str]) -> str:
    field = _field(model, model.USERNAME_FIELD)
    if isinstance(field, models.EmailField):
        email = (account.claims or {}).get("email")
        if not isinstance(email, str) or not email:
            raise LinkRefused("the user model signs in by email and the session token carries no email claim")
        return email
    username = USERNAME_PREFIX + account.clerk_id
    if field is not None and field.max_length is not None and len(username) > field.max_length:
        raise LinkRefused("the Clerk user id does not fit the user model's username field")
    return username


def _create(model: type[Any], account: FocusAccount, values: Mapping[str, str]) -> Any:
    fields = {**values, model.USERNAME_FIELD: _username(model, account, values)}
    try:
        with transaction.atomic():
            user = model(**fields)
            user.set_unusable_password()
            user.save()
            FocusLink.objects.create(user=user, clerk_id=account.clerk_id)
            return user
    except IntegrityError:
        link = FocusLink.objects.select_related("user").filter(clerk_id=account.clerk_id).first()
        if link is not None:  # a concurrent first request linked it
            return link.user
        raise LinkRefused("a user row already holds this account's username") from None


def linked_user(account: FocusAccount, linking: UserLinking) -> Any:
    """The account's user row, created on first sight and synced (blocking)."""
    model = get_user_model()
    values = synced_fields(model, account, linking.claims)
    link = FocusLink.objects.select_related("user").filter(clerk_id=account.clerk_id).first()
    user = link.user if link is not None else _create(model, account, values)
    changed = [name for name, value in values.items() if getattr(user, name) != value]
    for name in changed:
        setattr(user, name, values[name])
    if account.clerk_id in linking.staff and _field(model, "is_staff") is not None and not user.is_staff:
        user.is_staff = True
        changed.append("is_staff")
    if changed:
        user.save(update_fields=changed)
    return user


def link_or_none(account: FocusAccount, linking: UserLinking) -> Any:
    """:func:`linked_user`, or None (logged with the Clerk id, never a token) when refused."""
    try:
        return linked_user(account, linking)
    except LinkRefused as refused:
        logger.warning("focus: account %s not linked to a user: %s", account.clerk_id, refused)
        return None


__all__ = ["LinkRefused", "USERNAME_PREFIX", "link_or_none", "linked_user", "synced_fields"]
