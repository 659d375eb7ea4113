"""Old public names that still work for a while, with a warning that names the new one.

A module lists its renamed names and installs the returned function as its module-level
``__getattr__`` (PEP 562): the old name resolves only when used, so nothing warns at
import, and ``from module import OldName`` warns where the old name is written.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any


def renamed(module: str, names: Mapping[str, str], namespace: Mapping[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``names`` (old name → new name, both in ``namespace``)."""

    def __getattr__(name: str) -> Any:
        new = names.get(name)
        if new is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(f"{module}.{name} is deprecated; use {module}.{new}", DeprecationWarning, stacklevel=2)
        return namespace[new]

    return __getattr__
