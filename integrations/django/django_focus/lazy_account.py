"""``request.focus_account`` before anyone read it: Django's ``SimpleLazyObject``, built and
set up for less.

``LazyObject`` routes every attribute of the proxy through a Python ``__getattribute__``
and ``__setattr__`` (so that its proxy methods can defer to the wrapped object): building
one and filling it cost four passes through them, about 1.5 µs a request on the hot path
(issue 22), more than the rest of a cached account lookup. :class:`LazyAccount` writes its
two slots with ``object.__setattr__`` instead, and reads its factory with
``object.__getattribute__``: the same two attributes ``SimpleLazyObject`` keeps
(``_setupfunc``, ``_wrapped``), so everything else (the proxy methods, ``repr``, copies,
``isinstance(..., SimpleLazyObject)``) is Django's own, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.functional import SimpleLazyObject, empty


class LazyAccount(SimpleLazyObject):
    """A ``SimpleLazyObject`` of ``factory()`` (see the module docstring)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        object.__setattr__(self, "_setupfunc", factory)
        object.__setattr__(self, "_wrapped", empty)

    def _setup(self) -> None:
        object.__setattr__(self, "_wrapped", object.__getattribute__(self, "_setupfunc")())


__all__ = ["LazyAccount"]
