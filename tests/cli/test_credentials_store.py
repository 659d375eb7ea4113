"""The credentials store in process: which keyrings count as secure, the private file, the
order of sources, and ``from_stored_credentials`` for server code."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring.core
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import PasswordSetError

from focus_middleware.client import AsyncFocusClient, FocusClient
from focus_middleware.credentials_store import (
    KEYRING_SERVICE,
    CredentialStore,
    NoCredentialsError,
    config_dir,
    is_secure_backend,
    normalize_base_url,
    resolve_base_url,
    storage_keys,
)
from focus_middleware.testing import EmulatedUser, FocusEmulator

from .fake_keyring import ENV as KEYRING_ENV
from .fake_keyring import PlaintextTestKeyring, SecureTestKeyring

URL = "http://127.0.0.1:8787"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A private environment, also installed as the process's (for the classmethods), with
    the process-wide keyring pinned to the fail backend."""
    for name in ("FOCUS_TOKEN", "FOCUS_API_URL", "PYTHON_KEYRING_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv(KEYRING_ENV, str(tmp_path / "keyring.json"))
    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())
    yield {"XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home")}


@pytest.fixture
def secure(env: dict[str, str], tmp_path: Path) -> SecureTestKeyring:
    return SecureTestKeyring(tmp_path / "keyring.json")


# -- which keyrings count ---------------------------------------------------------------------


class _LowPriority(KeyringBackend):
    priority = 0.5

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError


class _AltLike(_LowPriority):
    priority = 5


_AltLike.__module__ = "keyrings.alt.file"


def test_only_secure_backends_count(secure: SecureTestKeyring, tmp_path: Path) -> None:
    assert is_secure_backend(secure)
    for insecure in (fail.Keyring(), null.Keyring(), PlaintextTestKeyring(tmp_path / "k"), _LowPriority(), _AltLike()):
        assert not is_secure_backend(insecure), type(insecure)


def test_a_chain_is_secure_only_if_every_link_is(
    secure: SecureTestKeyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = chainer.ChainerBackend()
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [secure, SecureTestKeyring(tmp_path / "b")])
    assert is_secure_backend(chain)
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [secure, PlaintextTestKeyring(tmp_path / "c")])
    assert not is_secure_backend(chain)
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    assert not is_secure_backend(chain)


def test_a_backend_that_is_not_viable_here_does_not_count(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    backend = SecureTestKeyring(tmp_path / "k")
    monkeypatch.delenv(KEYRING_ENV, raising=False)  # its priority now raises
    assert not is_secure_backend(backend)


# -- the file ----------------------------------------------------------------------------------


def test_the_file_is_0600_in_a_0700_dir_and_keyed_by_base_url(env: dict[str, str]) -> None:
    CredentialStore(URL, environ=env).save("fcs_one")
    CredentialStore("HTTP://LOCALHOST:80/", environ=env).save("fcs_two")
    path = Path(env["XDG_CONFIG_HOME"]) / "focus" / "credentials.json"
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    entries = json.loads(path.read_text())["credentials"]
    # Keyed by the URL normalised, loopback spellings as one (127.0.0.1 is stored as localhost).
    assert {k: v["token"] for k, v in entries.items()} == {"http://localhost:8787": "fcs_one",
                                                          "http://localhost": "fcs_two"}
    assert sorted(p.name for p in path.parent.iterdir()) == [".credentials.lock", "credentials.json"]
    found = CredentialStore("http://localhost/", environ=env).load()
    assert found is not None and (found.token, found.source, found.where) == ("fcs_two", "file", str(path))
    assert "fcs_two" not in repr(found)


def test_a_loose_existing_directory_is_tightened(env: dict[str, str]) -> None:
    directory = Path(env["XDG_CONFIG_HOME"]) / "focus"
    directory.mkdir(parents=True, mode=0o755)
    directory.chmod(0o755)
    CredentialStore(URL, environ=env).save("fcs_one")
    assert mode(directory) == 0o700


def test_a_permissive_umask_does_not_loosen_the_file(env: dict[str, str]) -> None:
    old = os.umask(0)
    try:
        CredentialStore(URL, environ=env).save("fcs_one")
    finally:
        os.umask(old)
    path = Path(env["XDG_CONFIG_HOME"]) / "focus" / "credentials.json"
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_a_corrupt_file_is_ignored_then_replaced(env: dict[str, str]) -> None:
    directory = Path(env["XDG_CONFIG_HOME"]) / "focus"
    directory.mkdir(parents=True, mode=0o700)
    (directory / "credentials.json").write_text("{not json")
    store = CredentialStore(URL, environ=env)
    assert store.load() is None
    store.save("fcs_new")
    assert store.file.get(store.key) == "fcs_new"


def test_removing_the_last_entry_removes_the_file(env: dict[str, str]) -> None:
    store = CredentialStore(URL, environ=env)
    store.save("fcs_one")
    assert store.delete() == [str(store.file.path)]
    assert not store.file.path.exists() and store.delete() == []


def test_config_dir_follows_xdg_only_when_absolute() -> None:
    assert config_dir({"XDG_CONFIG_HOME": "/x/conf", "HOME": "/h"}) == Path("/x/conf/focus")
    assert config_dir({"XDG_CONFIG_HOME": "relative", "HOME": "/h"}) == Path("/h/.config/focus")
    assert config_dir({"HOME": "/h"}) == Path("/h/.config/focus")


def test_base_urls_are_normalised_and_checked() -> None:
    assert normalize_base_url("HTTPS://Account.TheFocus.ai:443/") == "https://account.thefocus.ai"
    assert normalize_base_url("http://[::1]:8787/") == "http://[::1]:8787"
    assert normalize_base_url("http://h/api/") == "http://h/api"
    for bad in ("ftp://h", "h:80", "http://h/?x=1", "http://u:p@h", "http://h:99999"):
        with pytest.raises(ValueError):
            normalize_base_url(bad)
    assert resolve_base_url(None, {}) == "https://account.thefocus.ai"
    assert resolve_base_url(None, {"FOCUS_API_URL": URL + "/"}) == URL
    assert resolve_base_url("http://other", {"FOCUS_API_URL": URL}) == "http://other"


def test_loopback_spellings_and_a_trailing_slash_are_one_key() -> None:
    # The demo prints http://localhost:8787, a person types http://127.0.0.1:8787/ (issue 25).
    for url in ("http://localhost:8787", "http://127.0.0.1:8787/", "http://[::1]:8787", "HTTP://LocalHost:8787/"):
        assert storage_keys(url)[0] == "http://localhost:8787", url
    assert storage_keys("http://127.0.0.1/api/")[0] == "http://localhost/api"
    assert storage_keys("https://account.thefocus.ai/") == ["https://account.thefocus.ai"]
    assert storage_keys("http://127.0.0.2:8787")[0] == "http://127.0.0.2:8787"  # only the three spellings
    assert storage_keys("http://localhost:8788")[0] != storage_keys("http://localhost:8787")[0]


def test_a_login_to_localhost_is_found_for_127_0_0_1_and_for_ipv6(env: dict[str, str]) -> None:
    CredentialStore("http://localhost:8787/", environ=env).save("fcs_local")
    for url in ("http://127.0.0.1:8787", "http://[::1]:8787/"):
        found = CredentialStore(url, environ=env).load()
        assert found is not None and found.token == "fcs_local" and found.base_url == normalize_base_url(url)
    assert CredentialStore("http://127.0.0.1:8787", environ=env).delete()
    assert CredentialStore("http://localhost:8787", environ=env).load() is None


def test_a_token_stored_under_an_old_spelling_is_found_and_moved(env: dict[str, str],
                                                                 secure: SecureTestKeyring) -> None:
    # Before one key per loopback host, a token lived under the exact URL of its login.
    store = CredentialStore(URL, environ=env, use_keyring=False)
    store.file.put(URL, "fcs_file")
    found = CredentialStore("http://localhost:8787", environ=env, use_keyring=False).load()
    assert found is not None and found.token == "fcs_file"
    entries = json.loads(store.file.path.read_text())["credentials"]
    assert {k: v["token"] for k, v in entries.items()} == {"http://localhost:8787": "fcs_file"}  # moved
    secure.set_password(KEYRING_SERVICE, "http://[::1]:8787", "fcs_ring")
    in_ring = CredentialStore("http://[::1]:8787", environ=env, keyring_backend=secure)
    assert in_ring.file.remove("http://localhost:8787")
    found = in_ring.load()
    assert found is not None and (found.token, found.source) == ("fcs_ring", "keyring")
    assert secure.get_password(KEYRING_SERVICE, "http://localhost:8787") == "fcs_ring"
    assert secure.get_password(KEYRING_SERVICE, "http://[::1]:8787") is None
    assert in_ring.delete() and CredentialStore(URL, environ=env, keyring_backend=secure).load() is None


# -- keyring first, file second, FOCUS_TOKEN above both ------------------------------------------


def test_a_secure_keyring_is_preferred_and_replaces_a_file_entry(env: dict[str, str], secure: SecureTestKeyring) -> None:
    CredentialStore(URL, environ=env, use_keyring=False).save("fcs_old")
    store = CredentialStore(URL, environ=env, keyring_backend=secure)
    saved = store.save("fcs_new")
    assert saved.source == "keyring" and "SecureTestKeyring" in saved.where
    assert store.file.get(store.key) is None and not store.file.path.exists()
    found = store.load()
    assert found is not None and (found.token, found.source) == ("fcs_new", "keyring")
    assert store.delete() == [saved.where] and store.load() is None


def test_an_insecure_keyring_given_explicitly_is_still_not_used(env: dict[str, str], tmp_path: Path) -> None:
    plain = PlaintextTestKeyring(tmp_path / "plain.json")
    saved = CredentialStore(URL, environ=env, keyring_backend=plain).save("fcs_x")
    assert saved.source == "file" and not (tmp_path / "plain.json").exists()


def test_a_keyring_that_refuses_falls_back_to_the_file(
    env: dict[str, str], secure: SecureTestKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(service: str, username: str, password: str) -> None:
        raise PasswordSetError("locked")

    monkeypatch.setattr(secure, "set_password", refuse)
    saved = CredentialStore(URL, environ=env, keyring_backend=secure).save("fcs_x")
    assert saved.source == "file" and mode(Path(saved.where)) == 0o600


def test_focus_token_overrides_both(env: dict[str, str], secure: SecureTestKeyring) -> None:
    CredentialStore(URL, environ=env, keyring_backend=secure).save("fcs_stored")
    found = CredentialStore(URL, environ={**env, "FOCUS_TOKEN": " fcs_env "}, keyring_backend=secure).load()
    assert found is not None and (found.token, found.source, found.where) == ("fcs_env", "env", "FOCUS_TOKEN")
    blank = CredentialStore(URL, environ={**env, "FOCUS_TOKEN": "  "}, keyring_backend=secure).load()
    assert blank is not None and blank.token == "fcs_stored"


def test_the_process_keyring_is_used_when_secure(
    env: dict[str, str], secure: SecureTestKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", secure)
    assert CredentialStore(URL, environ=env).save("fcs_k").source == "keyring"
    monkeypatch.setattr(keyring.core, "_keyring_backend", null.Keyring())
    assert CredentialStore(URL, environ=env).save("fcs_f").source == "file"


# -- server code ---------------------------------------------------------------------------------


def test_from_stored_credentials_reads_env_then_store(
    env: dict[str, str], focus_emulator: FocusEmulator, focus_user: EmulatedUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    CredentialStore(focus_emulator.url).save(focus_user.pat())
    with FocusClient.from_stored_credentials(focus_emulator.url + "/") as client:
        assert client.base_url == focus_emulator.url
        assert client.wallet().clerk_id == focus_user.clerk_id
    other = focus_emulator.create_user()
    monkeypatch.setenv("FOCUS_TOKEN", other.pat())
    monkeypatch.setenv("FOCUS_API_URL", focus_emulator.url)
    with FocusClient.from_stored_credentials() as client:
        assert client.wallet().clerk_id == other.clerk_id


@pytest.mark.anyio
async def test_async_from_stored_credentials(
    env: dict[str, str], focus_emulator: FocusEmulator, focus_user: EmulatedUser
) -> None:
    CredentialStore(focus_emulator.url).save(focus_user.pat())
    client = AsyncFocusClient.from_stored_credentials(focus_emulator.url)
    try:
        assert (await client.wallet()).clerk_id == focus_user.clerk_id
    finally:
        await client.aclose()


def test_no_credentials_is_a_clear_lookup_error(env: dict[str, str]) -> None:
    with pytest.raises(NoCredentialsError) as raised:
        FocusClient.from_stored_credentials(URL)
    assert isinstance(raised.value, LookupError)
    assert str(raised.value) == (
        f"no Focus credentials for {URL}: run `focus login --base-url {URL}` or set FOCUS_TOKEN"
    )
    with pytest.raises(NoCredentialsError, match=r"run `focus login` or set FOCUS_TOKEN"):
        AsyncFocusClient.from_stored_credentials()
