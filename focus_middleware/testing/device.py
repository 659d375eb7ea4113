"""The device-code flow (RFC 8628) as the contract states it: codes, approval, polling.

- The **user code** is what a person types: 8 letters from ``BCDFGHJKLMNPQRSTVWXZ`` (no
  vowels, so no words; no look-alikes), shown ``XXXX-XXXX``, accepted in any case with or
  without dashes and spaces. Stored normalised (the 8 letters).
- The **device code** is what the CLI polls with: 256 random bits, stored as its hash.
- **Polling** answers pending (202), ``slow_down`` when the code is polled sooner than its
  interval after the previous poll (and the interval then grows by 5 s for that code, as
  RFC 8628 section 3.5 requires of the client too), ``expired_token`` once ``expires_in``
  has passed or for a code never issued, ``access_denied`` after a denial, the PAT once
  after approval and ``invalid_grant`` ever after. ``slow_down`` is RFC 8628's "variant of
  authorization_pending": a decided code answers with its decision however fast it is
  polled.

Every decision is one ``BEGIN IMMEDIATE`` transaction, so two concurrent polls of an
approved code cannot both receive the token.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from typing import Literal

from focus_middleware.testing.credentials import new_pat, new_secret, token_hash
from focus_middleware.testing.store import Store

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
SLOW_DOWN_STEP = 5
DEFAULT_CLIENT = "Focus CLI"

PollAnswer = Literal["pending", "slow_down", "expired_token", "access_denied", "invalid_grant"]


def new_user_code() -> str:
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def normalize_user_code(raw: str) -> str | None:
    """The 8 letters of what a person typed (``abcd-efgh``, ``ABCD EFGH``...), or None
    when it cannot be a user code at all."""
    letters = "".join(ch for ch in raw.upper() if ch not in "- \t")
    if len(letters) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in letters):
        return None
    return letters


def display_user_code(code: str) -> str:
    half = USER_CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


@dataclass(frozen=True)
class DeviceStart:
    device_code: str
    user_code: str
    """As shown: ``XXXX-XXXX``."""
    expires_in: int
    interval: int


@dataclass(frozen=True)
class PendingRequest:
    """A code waiting for a decision, as the device page shows it before approval."""

    user_code: str
    client_name: str
    client_address: str | None
    expires_at: float


@dataclass(frozen=True)
class Poll:
    answer: PollAnswer | Literal["approved"]
    token: str | None = None


class DeviceFlow:
    """Device codes in the store; times from the store's (the emulator's) clock."""

    def __init__(self, store: Store, interval: int = 5, expires_in: int = 900) -> None:
        if interval < 0 or expires_in < 1:
            raise ValueError("interval must be >= 0 and expires_in >= 1")
        self._store = store
        self.interval = interval
        self.expires_in = expires_in

    def start(self, client_name: str | None, client_address: str | None) -> DeviceStart:
        device_code = new_secret()
        now = self._store.now()
        with self._store.write() as conn:
            user_code = self._unused_user_code(conn, now)
            conn.execute(
                "INSERT INTO device_codes (device_code_hash, user_code, interval, created_at,"
                " expires_at, client_name, client_address) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    token_hash(device_code),
                    user_code,
                    self.interval,
                    now,
                    now + self.expires_in,
                    client_name or DEFAULT_CLIENT,
                    client_address,
                ),
            )
        return DeviceStart(
            device_code, display_user_code(user_code), self.expires_in, self.interval
        )

    @staticmethod
    def _unused_user_code(conn: sqlite3.Connection, now: float) -> str:
        """A fresh user code; an expired code holding the same letters is dropped (user
        codes are unique only among live ones, as there are only 20^8 of them)."""
        while True:
            code = new_user_code()
            conn.execute(
                "DELETE FROM device_codes WHERE user_code = ? AND expires_at <= ?", (code, now)
            )
            taken = conn.execute(
                "SELECT 1 FROM device_codes WHERE user_code = ?", (code,)
            ).fetchone()
            if taken is None:
                return code

    def pending(self, raw_user_code: str) -> PendingRequest | None:
        """The live, undecided request for a typed code; None for a wrong code."""
        code = normalize_user_code(raw_user_code)
        if code is None:
            return None
        with self._store.read() as conn:
            row = conn.execute(
                "SELECT * FROM device_codes WHERE user_code = ? AND status = 'pending'"
                " AND expires_at > ?",
                (code, self._store.now()),
            ).fetchone()
        if row is None:
            return None
        return PendingRequest(
            display_user_code(code), row["client_name"], row["client_address"], row["expires_at"]
        )

    def decide(self, raw_user_code: str, account_id: str, approve: bool) -> bool:
        """Approve (for ``account_id``) or deny a live, undecided code; False when the
        code is wrong, expired or already decided."""
        code = normalize_user_code(raw_user_code)
        if code is None:
            return False
        with self._store.write() as conn:
            updated = conn.execute(
                "UPDATE device_codes SET status = ?, account_id = ?"
                " WHERE user_code = ? AND status = 'pending' AND expires_at > ?",
                ("approved" if approve else "denied", account_id, code, self._store.now()),
            ).rowcount
        return updated == 1

    def poll(self, device_code: str) -> Poll:
        """One poll, decided and recorded in one transaction."""
        now = self._store.now()
        with self._store.write() as conn:
            row = conn.execute(
                "SELECT * FROM device_codes WHERE device_code_hash = ?", (token_hash(device_code),)
            ).fetchone()
            if row is None:
                return Poll("expired_token")
            if row["status"] == "redeemed":
                return Poll("invalid_grant")
            if now >= row["expires_at"]:
                return Poll("expired_token")
            if row["status"] == "denied":
                return Poll("access_denied")
            if row["status"] == "approved":
                return Poll("approved", self._redeem(conn, row))
            return self._pending_poll(conn, row, now)

    def _redeem(self, conn: sqlite3.Connection, row: sqlite3.Row) -> str:
        token = new_pat()
        conn.execute(
            "UPDATE device_codes SET status = 'redeemed', last_poll_at = ?"
            " WHERE device_code_hash = ?",
            (self._store.now(), row["device_code_hash"]),
        )
        self._store.insert_pat(conn, row["account_id"], token_hash(token))
        return token

    @staticmethod
    def _pending_poll(conn: sqlite3.Connection, row: sqlite3.Row, now: float) -> Poll:
        interval = row["interval"]
        too_soon = row["last_poll_at"] is not None and now - row["last_poll_at"] < interval
        if too_soon:
            interval += SLOW_DOWN_STEP
        conn.execute(
            "UPDATE device_codes SET last_poll_at = ?, interval = ? WHERE device_code_hash = ?",
            (now, interval, row["device_code_hash"]),
        )
        return Poll("slow_down" if too_soon else "pending")
