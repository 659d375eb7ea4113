"""Keyring backends for tests, loaded by name through ``PYTHON_KEYRING_BACKEND``.

Each CLI run is its own process, so an in-memory keyring would forget the token between
``focus login`` and ``focus whoami``: these keep their secrets in the JSON file named by
``$FOCUS_TEST_KEYRING`` instead. Without that variable they are not viable, so keyring's
own detection never picks them up in a test process that merely imported this module.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError

ENV = "FOCUS_TEST_KEYRING"


class _FileBacked(KeyringBackend):
    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.path = path or Path(os.environ[ENV])

    def _all(self) -> dict[str, str]:
        try:
            data: dict[str, str] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return data

    def get_password(self, service: str, username: str) -> str | None:
        return self._all().get(f"{service}|{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._all()
        data[f"{service}|{username}"] = password
        self.path.write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._all()
        if data.pop(f"{service}|{username}", None) is None:
            raise PasswordDeleteError("not found")
        self.path.write_text(json.dumps(data))


class SecureTestKeyring(_FileBacked):
    """Stands in for the macOS Keychain or Secret Service: priority 5, as those have."""

    @properties.classproperty
    def priority(cls) -> float:
        if not os.environ.get(ENV):
            raise RuntimeError(f"{ENV} is not set")
        return 5


class PlaintextTestKeyring(_FileBacked):
    """A "plaintext" keyring claiming a high priority: its class name alone disqualifies it."""

    @properties.classproperty
    def priority(cls) -> float:
        if not os.environ.get(ENV):
            raise RuntimeError(f"{ENV} is not set")
        return 5
