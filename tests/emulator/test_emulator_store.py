"""The store: where it lives, what survives a restart, and the auditor of its books."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import httpx
import pytest

from focus_middleware.testing import FocusEmulator
from focus_middleware.testing.schema import SCHEMA, SCHEMA_VERSION
from focus_middleware.testing.store import default_db_path

TABLES = {
    "accounts", "apps", "grants", "jobs", "ledger", "pats", "sessions",
    "device_codes", "oauth_connections", "keys",
}


def test_default_path_and_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FOCUS_EMULATOR_DB", raising=False)
    assert Path(default_db_path()) == Path(".focus-emulator/emulator.db")
    monkeypatch.setenv("FOCUS_EMULATOR_DB", "/tmp/elsewhere.db")
    assert default_db_path() == "/tmp/elsewhere.db"


def test_schema_is_created_in_a_new_file(tmp_path: Path) -> None:
    db = tmp_path / "data" / "emulator.db"
    with FocusEmulator(db=db):
        pass
    names = {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master")}
    assert TABLES <= names


def test_reopening_a_file_keeps_its_data(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    with FocusEmulator(db=db) as first:
        user = first.create_user(credits=30, clerk_id="user_2persist")
        token = user.pat()
        job = httpx.post(
            first.url + "/api/jobs",
            json={"app": "video", "action": "render", "cost_estimate": 4},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["job_id"]
        kids = [k["kid"] for k in httpx.get(first.jwks_url).json()["keys"]]
        port = int(first.url.rsplit(":", 1)[1])
    with FocusEmulator(db=db, port=port) as second:
        again = second.find_user("user_2persist")
        assert again is not None and again.account_id == user.account_id
        assert again.credits == 26
        assert [j["id"] for j in second.jobs(again)] == [job]
        assert [k["kid"] for k in httpx.get(second.jwks_url).json()["keys"]] == kids
        wallet = httpx.get(second.url + "/api/wallet", headers={"Authorization": f"Bearer {token}"})
        assert wallet.json()["account"]["credits"] == 26  # the PAT survived too
        second.check_books()


def test_pats_are_stored_as_hashes_only(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    with FocusEmulator(db=db) as emu:
        token = emu.create_user().pat()
    rows = sqlite3.connect(db).execute("SELECT * FROM pats").fetchall()
    assert len(rows) == 1
    assert token not in repr(rows)
    assert token.startswith("focus_pat_") and len(token) == len("focus_pat_") + 43


def test_check_books_names_the_account_that_does_not_balance(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    with FocusEmulator(db=db) as emu:
        user = emu.create_user(credits=10, clerk_id="user_2tampered")
        emu.check_books()
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE accounts SET credits = credits + 1")
        with pytest.raises(AssertionError, match="user_2tampered"):
            emu.check_books()
        emu.set_credits(user, 10)  # an adjust row does not hide the gap
        with pytest.raises(AssertionError, match="user_2tampered"):
            emu.check_books()


def test_check_books_audits_each_settled_job(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    with FocusEmulator(db=db) as emu:
        user = emu.create_user(credits=10, clerk_id="user_2jobaudit")
        token = user.pat()
        job = httpx.post(
            emu.url + "/api/jobs",
            json={"app": "video", "action": "render", "cost_estimate": 4},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["job_id"]
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE jobs SET status = 'completed', actual_cost = 1 WHERE id = ?", (job,))
        with pytest.raises(AssertionError, match=f"user_2jobaudit.*{job}"):
            emu.check_books()


def _version_1_file(db: Path) -> None:
    """A database as version 1 of the schema left it (no names, secrets or clients)."""
    v1 = re.sub(r",\n    (name|organization|secret_hash|client_name|client_address) TEXT", "", SCHEMA)
    assert "secret_hash" not in v1 and "client_name" not in v1 and "organization" not in v1
    with sqlite3.connect(db) as conn:
        conn.executescript(v1)
        conn.execute(
            "INSERT INTO accounts (id, clerk_id, email, plan, credits, created_at)"
            " VALUES ('acc-1', 'user_2old', 'old@example.test', 'free', 7, 0)"
        )
        conn.execute("INSERT INTO ledger (account_id, amount, kind, created_at) VALUES ('acc-1', 7, 'adjust', 0)")
        conn.execute("INSERT INTO sessions (id, account_id, created_at) VALUES ('sess_2old', 'acc-1', 0)")
        conn.execute("PRAGMA user_version = 1")


def test_a_version_1_file_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _version_1_file(db)
    with FocusEmulator(db=db) as emu:
        user = emu.find_user("user_2old")
        assert user is not None and user.credits == 7 and user.session_id == "sess_2old"
        cookie = user.signin_cookie()  # a secret on a session: the new column
        answer = httpx.get(emu.url + "/api/sessionToken", cookies={"focus_emulator_signin": cookie})
        assert answer.status_code == 200
        emu.check_books()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "client_name" in {r[1] for r in conn.execute("PRAGMA table_info(device_codes)")}


def test_a_newer_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        FocusEmulator(db=db)
