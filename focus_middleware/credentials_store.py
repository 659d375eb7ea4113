"""Where ``focus login`` keeps a personal access token, and where code finds it again.

A PAT acts for its user for about 90 days and can spend their credits, so it is kept like
a password:

- **The system keyring** (macOS Keychain, Windows Credential Locker, Secret Service,
  KWallet) through :mod:`keyring`, when the backend it picked is a secure one. Not every
  backend is: ``keyring.backends.fail`` and ``null`` store nothing, and ``keyrings.alt`` (or
  any "plaintext" backend) writes the secret to a file readable by anything running as the
  user, which is no better than our own file and harder to find. Those count as "no
  keyring", as does a backend below keyring's own "recommended" priority (1).
- **Otherwise a file**, ``$XDG_CONFIG_HOME/focus/credentials.json`` (``~/.config/focus/…``
  when unset; ``%APPDATA%\\focus\\…`` on Windows): mode 0600 in a 0700 directory, created
  with those modes (never chmod-ed after being written with looser ones) and replaced
  atomically, so a crash or a concurrent login never leaves half a file.
- **``FOCUS_TOKEN``** in the environment overrides both: CI jobs, containers and one-off
  commands set it and never touch a store.

Credentials are keyed by the API's base URL (normalised: lower-case scheme and host, no
default port, no trailing slash), so a token for the local emulator never reaches
production, and logging in to one never logs out of the other. The loopback spellings
``localhost``, ``127.0.0.1`` and ``[::1]`` are one key (``localhost``): the demo prints
one, a person types another, and it is the same emulator on this machine. Tokens stored
under another spelling before that rule are still found, and moved to the key.

Nothing here logs, prints or puts a token into an exception: errors name the base URL and
the place, never the value.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from focus_middleware.config import DEFAULT_API_URL
from focus_middleware.errors import FocusError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

logger = logging.getLogger("focus_middleware.credentials")

KEYRING_SERVICE = "focus-middleware"
ENV_TOKEN = "FOCUS_TOKEN"
ENV_API_URL = "FOCUS_API_URL"
FILE_NAME = "credentials.json"
FILE_VERSION = 1
# keyring's own threshold for a backend it would recommend (keyring.core.recommended).
MIN_KEYRING_PRIORITY = 1.0

Source = Literal["env", "keyring", "file"]


class NoCredentialsError(FocusError, LookupError):
    """No token for this base URL: not in ``FOCUS_TOKEN``, the keyring or the file."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        hint = "" if base_url == DEFAULT_API_URL else f" --base-url {base_url}"
        super().__init__(
            f"no Focus credentials for {base_url}: run `focus login{hint}` or set {ENV_TOKEN}"
        )


class CredentialsFileError(FocusError, OSError):
    """The credentials directory or file cannot be used safely (wrong owner, not a
    directory). Raised rather than silently writing a token somewhere others can read."""


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """A token and where it came from (``where`` is for people: ``FOCUS_TOKEN``, the
    keyring backend's name, or the file's path)."""

    token: str = field(repr=False)
    base_url: str
    source: Source
    where: str


# -- base URLs -------------------------------------------------------------------------------


def normalize_base_url(url: str) -> str:
    """The form a base URL is keyed by: ``HTTP://Example.com:443/`` and
    ``http://example.com:443`` must find the same token. Raises ValueError for anything
    that is not an absolute http(s) URL without query or fragment."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {text!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"a base URL has no query, fragment or user info: {text!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad port in {text!r}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
"""How this machine is spelt in a URL; one storage key for all of them."""


def storage_keys(base_url: str) -> list[str]:
    """The keys a token for ``base_url`` is stored under: the key first, then the
    spellings used before loopback hosts shared one (read, then moved to the key).
    ``http://127.0.0.1:8787/`` and ``http://[::1]:8787`` are both ``http://localhost:8787``."""
    url = normalize_base_url(base_url)
    parts = urlsplit(url)
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    if host not in LOOPBACK_HOSTS:
        return [url]
    rest = parts.netloc[len(host):]
    spelt = [f"{parts.scheme}://{name}{rest}{parts.path}" for name in LOOPBACK_HOSTS]
    return [spelt[0], *(key for key in dict.fromkeys([url, *spelt[1:]]) if key != spelt[0])]


def resolve_base_url(base_url: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The base URL to act on: the one given, else ``$FOCUS_API_URL``, else production."""
    env = os.environ if environ is None else environ
    return normalize_base_url(base_url or env.get(ENV_API_URL) or DEFAULT_API_URL)


# -- the keyring -----------------------------------------------------------------------------


def is_secure_backend(backend: KeyringBackend) -> bool:
    """Whether ``backend`` keeps secrets better than a 0600 file would.

    A chainer (several backends tried in turn) is secure only if every backend in it is:
    it writes to the first that accepts, and reads from any.
    """
    from keyring.backends import chainer, fail, null

    if isinstance(backend, chainer.ChainerBackend):
        chained = list(backend.backends)
        return bool(chained) and all(is_secure_backend(b) for b in chained)
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return False
    cls = type(backend)
    if cls.__module__.split(".")[0] == "keyrings" or "plaintext" in cls.__name__.lower():
        return False  # keyrings.alt: "alternate, less secure" backends, files mostly
    try:
        priority = float(backend.priority)
    except Exception:  # a backend says "not viable here" by raising from priority
        return False
    return priority >= MIN_KEYRING_PRIORITY


def backend_name(backend: KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def system_keyring() -> KeyringBackend | None:
    """The keyring backend ``keyring`` selects here (``PYTHON_KEYRING_BACKEND``, its config
    file, or detection), if it is secure; None otherwise or when it cannot even load."""
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception as exc:  # a bad PYTHON_KEYRING_BACKEND, a broken D-Bus...
        logger.debug("focus: no keyring (%s)", type(exc).__name__)
        return None
    if not is_secure_backend(backend):
        logger.debug("focus: keyring backend %s is not secure; using the file", backend_name(backend))
        return None
    return backend


# -- the file --------------------------------------------------------------------------------


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/focus`` (only an absolute value counts, as the XDG spec says),
    ``%APPDATA%\\focus`` on Windows, else ``~/.config/focus``."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "focus"
    if sys.platform == "win32" and env.get("APPDATA"):
        return Path(env["APPDATA"]) / "focus"
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".config" / "focus"


def _private_dir(path: Path) -> None:
    """Make ``path`` (not its parents) a directory only the user can enter: created 0700,
    tightened to 0700 if it was looser, refused if someone else owns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = path.stat()
    if not path.is_dir():
        raise CredentialsFileError(f"{path} is not a directory")
    if os.name == "posix":
        if info.st_uid != os.geteuid():
            raise CredentialsFileError(f"{path} belongs to another user; not storing a token there")
        if info.st_mode & 0o077:
            os.chmod(path, 0o700)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One read-modify-write of the file at a time (two logins to different base URLs
    must not drop each other's entry). Advisory, POSIX only; elsewhere the atomic
    replace still keeps the file whole."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(directory / ".credentials.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_private(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` atomically, the file never readable by others:
    a temporary file is created 0600 (``O_EXCL``, so never someone else's file or a
    symlink), synced, then renamed over ``path``."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # umask can only take bits away; say exactly what we want
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError, AttributeError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class CredentialsFile:
    """``credentials.json``: ``{"version": 1, "credentials": {base_url: {"token", "saved_at"}}}``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        if os.name == "posix" and self.path.stat().st_mode & 0o077:
            logger.warning("focus: %s is readable by others; log in again to rewrite it 0600", self.path)
        try:
            data = json.loads(text)
        except ValueError:
            logger.warning("focus: %s is not JSON; ignoring it", self.path)
            return {}
        entries = data.get("credentials") if isinstance(data, dict) else None
        return entries if isinstance(entries, dict) else {}

    def get(self, base_url: str) -> str | None:
        entry = self._read().get(base_url)
        token = entry.get("token") if isinstance(entry, dict) else None
        return token if isinstance(token, str) and token else None

    def put(self, base_url: str, token: str) -> None:
        _private_dir(self.path.parent)
        with _locked(self.path.parent):
            entries = self._read()
            entries[base_url] = {"token": token, "saved_at": datetime.now(UTC).isoformat(timespec="seconds")}
            _write_private(self.path, {"version": FILE_VERSION, "credentials": entries})

    def remove(self, base_url: str) -> bool:
        if not self.path.exists():
            return False
        with _locked(self.path.parent):
            entries = self._read()
            if entries.pop(base_url, None) is None:
                return False
            if entries:
                _write_private(self.path, {"version": FILE_VERSION, "credentials": entries})
            else:
                self.path.unlink()
        return True


# -- the store -------------------------------------------------------------------------------


class CredentialStore:
    """The token for one base URL: read from ``FOCUS_TOKEN``, the keyring or the file;
    written to the keyring when it is secure, else the file.

    ``environ`` defaults to the process environment; ``keyring_backend`` to what
    :func:`system_keyring` finds (tests pass one; it must still be secure to be used);
    ``use_keyring=False`` keeps to the file.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        keyring_backend: KeyringBackend | None = None,
        use_keyring: bool = True,
    ) -> None:
        self._env: Mapping[str, str] = os.environ if environ is None else environ
        self.base_url = resolve_base_url(base_url, self._env)
        self.key, *self._old_keys = storage_keys(self.base_url)
        self.file = CredentialsFile(config_dir(self._env) / FILE_NAME)
        self._use_keyring = use_keyring
        self._given_backend = keyring_backend
        self._backend: KeyringBackend | None = None
        self._looked_up = False

    def __repr__(self) -> str:
        return f"CredentialStore(base_url={self.base_url!r}, file={str(self.file.path)!r})"

    @property
    def keyring(self) -> KeyringBackend | None:
        """The secure keyring backend in use, looked up once (importing keyring and
        probing D-Bus costs time, and commands run with ``FOCUS_TOKEN`` never need it)."""
        if not self._looked_up:
            self._looked_up = True
            if not self._use_keyring:
                self._backend = None
            elif self._given_backend is not None:
                self._backend = self._given_backend if is_secure_backend(self._given_backend) else None
            else:
                self._backend = system_keyring()
        return self._backend

    @property
    def env_token(self) -> str | None:
        token = self._env.get(ENV_TOKEN, "").strip()
        return token or None

    def load(self) -> StoredCredential | None:
        """The token to use: ``FOCUS_TOKEN``, else the keyring, else the file."""
        if self.env_token is not None:
            return StoredCredential(self.env_token, self.base_url, "env", ENV_TOKEN)
        return self.load_stored()

    def load_stored(self) -> StoredCredential | None:
        """What ``focus login`` stored (``FOCUS_TOKEN`` aside): under the key, else under
        an older spelling of it, which is then moved to the key."""
        for key in (self.key, *self._old_keys):
            found = self._load_at(key)
            if found is not None:
                if key != self.key:
                    self._migrate(found)
                return found
        return None

    def _load_at(self, key: str) -> StoredCredential | None:
        backend = self.keyring
        if backend is not None:
            try:
                token = backend.get_password(KEYRING_SERVICE, key)
            except Exception as exc:  # locked, D-Bus gone...: the file may still have one
                logger.debug("focus: keyring read failed (%s)", type(exc).__name__)
                token = None
            if token:
                return StoredCredential(token, self.base_url, "keyring", f"the system keyring ({backend_name(backend)})")
        token = self.file.get(key)
        if token:
            return StoredCredential(token, self.base_url, "file", str(self.file.path))
        return None

    def _migrate(self, found: StoredCredential) -> None:
        """Store a token found under an older key under the key (best effort: reading it
        already worked, and a read-only store must not fail the command)."""
        try:
            self.save(found.token)
        except (OSError, CredentialsFileError) as exc:
            logger.debug("focus: could not move a stored token to its key (%s)", type(exc).__name__)

    def require(self) -> StoredCredential:
        """:meth:`load`, or :class:`NoCredentialsError`."""
        found = self.load()
        if found is None:
            raise NoCredentialsError(self.base_url)
        return found

    def save(self, token: str) -> StoredCredential:
        """Store ``token`` for this base URL, in the keyring when it is secure and accepts
        it, else in the file; the other place is cleared so an old token there cannot
        shadow or outlive the new one."""
        if not token:
            raise ValueError("an empty token")
        self._forget_old_keys()
        backend = self.keyring
        if backend is not None:
            try:
                backend.set_password(KEYRING_SERVICE, self.key, token)
            except Exception as exc:
                logger.warning("focus: the keyring refused the token (%s); using %s", type(exc).__name__, self.file.path)
            else:
                self.file.remove(self.key)
                return StoredCredential(token, self.base_url, "keyring", f"the system keyring ({backend_name(backend)})")
            self._keyring_remove(backend, self.key)
        self.file.put(self.key, token)
        return StoredCredential(token, self.base_url, "file", str(self.file.path))

    def _forget_old_keys(self) -> list[str]:
        removed: list[str] = []
        backend = self.keyring
        for key in self._old_keys:
            if backend is not None and self._keyring_remove(backend, key):
                removed.append(f"the system keyring ({backend_name(backend)})")
            if self.file.remove(key):
                removed.append(str(self.file.path))
        return removed

    def delete(self) -> list[str]:
        """Forget the stored token (keyring and file); the places it was removed from."""
        removed = []
        backend = self.keyring
        if backend is not None and self._keyring_remove(backend, self.key):
            removed.append(f"the system keyring ({backend_name(backend)})")
        if self.file.remove(self.key):
            removed.append(str(self.file.path))
        return list(dict.fromkeys([*removed, *self._forget_old_keys()]))

    def _keyring_remove(self, backend: KeyringBackend, key: str) -> bool:
        try:
            if backend.get_password(KEYRING_SERVICE, key) is None:
                return False
            backend.delete_password(KEYRING_SERVICE, key)
        except Exception as exc:
            logger.debug("focus: keyring delete failed (%s)", type(exc).__name__)
            return False
        return True


def stored_credential(base_url: str | None = None, environ: Mapping[str, str] | None = None) -> StoredCredential:
    """The token server code should use for ``base_url`` (default ``$FOCUS_API_URL``, else
    production): ``FOCUS_TOKEN``, else the keyring, else the file. Raises
    :class:`NoCredentialsError` when there is none."""
    return CredentialStore(base_url, environ=environ).require()


__all__ = [
    "ENV_API_URL",
    "ENV_TOKEN",
    "KEYRING_SERVICE",
    "CredentialStore",
    "CredentialsFile",
    "CredentialsFileError",
    "NoCredentialsError",
    "StoredCredential",
    "config_dir",
    "is_secure_backend",
    "normalize_base_url",
    "resolve_base_url",
    "storage_keys",
    "stored_credential",
    "system_keyring",
]
