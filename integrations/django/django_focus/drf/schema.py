"""OpenAPI with drf-spectacular: the bearer scheme and the refusals.

Importing :mod:`django_focus.drf` registers :class:`FocusScheme` (drf-spectacular finds
extensions by subclassing, its "Extensions" guide), so every view authenticated by
``FocusAuthentication`` declares the ``FocusBearer`` security scheme. The refusals a view
may answer instead of running (401, 402, 403, 503; 303 for browsers) are added by
:class:`FocusAutoSchema`::

    REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "django_focus.drf.schema.FocusAutoSchema", ...}

It reads what protects each operation (the view's permissions, ``HasCredits`` within
them, a ``@paid`` handler) and places the core's descriptions
(:mod:`focus_middleware.openapi`): the statuses, and their JSON bodies as components.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import AllowAny

from focus_middleware.openapi import (
    SCHEME_NAME,
    SECURITY_SCHEME,
    components,
    merge_responses,
    protection_of,
    refusal_responses,
    requirements_of,
)
from focus_middleware.responses import Protection

from django_focus.drf.authentication import FocusAuthentication
from django_focus.drf.permissions import HasCredits


class FocusScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "django_focus.drf.authentication.FocusAuthentication"
    match_subclasses = True
    name = SCHEME_NAME

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return dict(SECURITY_SCHEME)


def _permission_tree(permission: Any) -> Iterator[Any]:
    yield permission
    for part in ("op1", "op2"):
        inner = getattr(permission, part, None)
        if inner is not None:
            yield from _permission_tree(inner)


class FocusAutoSchema(AutoSchema):
    """drf-spectacular's ``AutoSchema``, with each operation's Focus refusals."""

    def get_operation(self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any) -> Any:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        protections = self.focus_protections()
        if protections:
            merge_responses(operation, refusal_responses(protections, method))
            for name, schema in components().items():
                self.registry.register_on_missing(
                    ResolvedComponent(  # type: ignore[no-untyped-call]
                        name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema))
        return operation

    def focus_protections(self) -> list[Protection]:
        """What guards this operation: a ``@paid`` handler, ``HasCredits``, or any
        permission but ``AllowAny`` on a view that authenticates with Focus."""
        view = self.view
        handler = getattr(view, getattr(view, "action", None) or self.method.lower(), None)
        found: list[Protection] = [protection_of(r) for r in requirements_of(handler)]
        if not any(isinstance(a, FocusAuthentication) for a in view.get_authenticators()):
            return found
        permissions = [p for top in view.get_permissions() for p in _permission_tree(top)]
        credits = [p for p in permissions if isinstance(p, HasCredits) and p.requirement.credits]
        if credits:
            found.append("credits")
        elif any(not isinstance(p, AllowAny) for p in view.get_permissions()):
            found.append("account")
        return found


__all__ = ["FocusAutoSchema", "FocusScheme"]
