"""What every account command needs: the base URL, the stored token, a client.

The base URL comes from ``--base-url``, else ``$FOCUS_API_URL``, else production; it also
picks which stored token is used, so the emulator's and production's never mix.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from focus_middleware.cli.exits import NOT_LOGGED_IN, USAGE, CLIError, remember_secret
from focus_middleware.client import FocusClient
from focus_middleware.config import DEFAULT_API_URL
from focus_middleware.credentials_store import (
    ENV_TOKEN,
    CredentialStore,
    StoredCredential,
    normalize_base_url,
)
from focus_middleware.errors import UnauthorizedError

CLIENT_TIMEOUT = 10.0


def base_url_option(value: str) -> str:
    """argparse ``type=`` for ``--base-url``: a bad URL is a usage error (exit 2)."""
    try:
        return normalize_base_url(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def credential_store(args: argparse.Namespace) -> CredentialStore:
    try:
        return CredentialStore(getattr(args, "base_url", None))
    except ValueError as exc:  # FOCUS_API_URL is not a URL
        raise CLIError(f"FOCUS_API_URL: {exc}", USAGE) from None


def make_client(base_url: str, token: str | None = None) -> FocusClient:
    return FocusClient(base_url, token, timeout=CLIENT_TIMEOUT)


def describe(credential: StoredCredential) -> str:
    """Where a token came from, for people (``the environment (FOCUS_TOKEN)``...)."""
    if credential.source == "env":
        return f"the environment ({ENV_TOKEN})"
    if credential.source == "file":
        return f"{credential.where} (readable only by you)"
    return credential.where


def logged_in(args: argparse.Namespace) -> tuple[CredentialStore, StoredCredential]:
    """The store and its token, or exit code 3 with a line saying how to log in."""
    store = credential_store(args)
    credential = store.require()
    remember_secret(credential.token)
    return store, credential


@contextlib.contextmanager
def refused_as_not_logged_in(credential: StoredCredential) -> Iterator[None]:
    """A 401 means this token is dead: say which one, and what to do (exit code 3)."""
    try:
        yield
    except UnauthorizedError:
        if credential.source == "env":
            message = f"Focus at {credential.base_url} refused the token in {ENV_TOKEN}"
        else:
            message = (
                f"Focus at {credential.base_url} refused the stored token (expired or revoked):"
                f" run `focus login{_base_url_hint(credential.base_url)}` again"
            )
        raise CLIError(message, NOT_LOGGED_IN) from None


def _base_url_hint(base_url: str) -> str:
    return "" if base_url == DEFAULT_API_URL else f" --base-url {base_url}"
