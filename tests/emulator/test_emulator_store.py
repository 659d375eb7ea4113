"""The store: where it lives, what survives a restart, and the auditor of its books."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from focus_middleware.testing import FocusEmulator
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
