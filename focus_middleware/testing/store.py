"""The emulator's SQLite store: schema, accounts, apps, jobs and the credit ledger.

The ledger is the point of this module. Every credit movement is a ledger row written in
the same transaction as the balance change, so a balance always equals the sum of its
ledger; a reservation is a conditional ``UPDATE`` (never read-then-write), so two
concurrent reservations can never spend the same credit. All writes run in
``BEGIN IMMEDIATE`` transactions on one connection guarded by a lock: SQLite has a single
writer anyway, the lock keeps threads of this process in order, and ``IMMEDIATE`` keeps a
second process on the same file from interleaving.

Times are stored as epoch seconds from the injected clock and rendered as ISO 8601 only at
the edge (:func:`iso`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from focus_middleware.clock import Clock
from focus_middleware.testing.claims import OrgMembership
from focus_middleware.testing.schema import create_or_migrate

MEMORY = ":memory:"
DEFAULT_DB = Path(".focus-emulator") / "emulator.db"
DB_ENV = "FOCUS_EMULATOR_DB"
DEFAULT_STARTER_CREDITS = 20
PAT_LIFETIME = 90 * 24 * 3600.0
STATUSES = ("started", "completed", "failed")
LEDGER_KINDS = ("grant", "purchase", "reserve", "settle", "refund", "adjust")



class InsufficientCredits(Exception):
    """A reservation the balance cannot cover; nothing was written."""

    def __init__(self, required: int, available: int) -> None:
        super().__init__(f"required {required}, available {available}")
        self.required = required
        self.available = available


class JobNotFound(Exception):
    """No such job for this account (another account's job is not found either)."""


class SettlementConflict(Exception):
    """The job was already settled with different values."""

    def __init__(self, status: str) -> None:
        super().__init__(f"job already {status}")
        self.status = status


@dataclass(frozen=True)
class Account:
    id: str
    clerk_id: str
    email: str | None
    plan: str
    credits: int
    name: str | None = None
    organization: OrgMembership | None = None
    """The user's active organisation, which their session tokens carry."""

    @property
    def display_name(self) -> str:
        """What a page calls this person: the name, else the email, else the Clerk id."""
        return self.name or self.email or self.clerk_id


@dataclass(frozen=True)
class StoredKey:
    kid: str
    private_pem: str
    published_until: float | None


def iso(ts: float | None) -> str | None:
    """Render epoch seconds the way the contract shows times: ``2025-10-28T12:00:00Z``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_db_path() -> str:
    """The CLI's database: ``$FOCUS_EMULATOR_DB``, else ``.focus-emulator/emulator.db``."""
    return os.environ.get(DB_ENV) or str(DEFAULT_DB)


def _open(db: str | Path) -> sqlite3.Connection:
    path = str(db)
    if path != MEMORY:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    if path != MEMORY:
        conn.execute("PRAGMA journal_mode = WAL")
    return conn


class Store:
    """All persistent state of one emulator, behind one lock-guarded connection."""

    def __init__(self, db: str | Path, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._conn = _open(db)
        self._create_schema()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- transactions -----------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def _create_schema(self) -> None:
        with self._write() as conn:
            create_or_migrate(conn)

    # Sibling modules (device codes, sign-in) keep their SQL next to their rules, and run
    # it in the store's transactions so it shares the one lock and the one writer.

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction, committed on success."""
        return self._write()

    def read(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._read()

    def now(self) -> float:
        return self._clock.time()

    def _now(self) -> float:
        return self._clock.time()

    # -- the one way credits move -----------------------------------------------------

    def _move(
        self,
        conn: sqlite3.Connection,
        account_id: str,
        amount: int,
        kind: str,
        job_id: str | None = None,
        app: str | None = None,
    ) -> None:
        """Change a balance and write its ledger row, inside the caller's transaction."""
        if amount == 0:
            return
        conn.execute(
            "UPDATE accounts SET credits = credits + ? WHERE id = ?", (amount, account_id)
        )
        self._ledger_row(conn, account_id, amount, kind, job_id, app)

    def _ledger_row(
        self,
        conn: sqlite3.Connection,
        account_id: str,
        amount: int,
        kind: str,
        job_id: str | None,
        app: str | None,
    ) -> None:
        conn.execute(
            "INSERT INTO ledger (account_id, amount, kind, job_id, app, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (account_id, amount, kind, job_id, app, self._now()),
        )

    # -- accounts ---------------------------------------------------------------------

    def create_account(
        self,
        clerk_id: str,
        email: str | None,
        plan: str,
        credits: int,
        name: str | None = None,
        organization: OrgMembership | None = None,
    ) -> Account:
        """A new account; its opening balance is an ``adjust`` ledger row."""
        with self._write() as conn:
            if self._account_row(conn, "clerk_id", clerk_id) is not None:
                raise ValueError("an account with this clerk_id already exists")
            account_id = self._insert_account(conn, clerk_id, email, plan, name)
            if organization is not None:
                self._set_organization(conn, account_id, organization)
            self._move(conn, account_id, credits, "adjust")
        return self.account(account_id)

    def accounts(self, limit: int = 100) -> list[Account]:
        """The newest accounts first: the people the sign-in page offers."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM accounts ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_account(row) for row in rows]

    def upsert_account(self, clerk_id: str) -> Account:
        """The account of a Clerk user, created empty on first sight (as the service does)."""
        with self._read() as conn:
            row = self._account_row(conn, "clerk_id", clerk_id)
        if row is None:
            with self._write() as conn:
                row = self._account_row(conn, "clerk_id", clerk_id)
                if row is None:
                    self._insert_account(conn, clerk_id, None, "free")
                    row = self._account_row(conn, "clerk_id", clerk_id)
        assert row is not None
        return _account(row)

    def _insert_account(
        self,
        conn: sqlite3.Connection,
        clerk_id: str,
        email: str | None,
        plan: str,
        name: str | None = None,
    ) -> str:
        account_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO accounts (id, clerk_id, email, plan, credits, created_at, name)"
            " VALUES (?, ?, ?, ?, 0, ?, ?)",
            (account_id, clerk_id, email, plan, self._now(), name),
        )
        return account_id

    @staticmethod
    def _account_row(conn: sqlite3.Connection, column: str, value: str) -> sqlite3.Row | None:
        assert column in ("id", "clerk_id")
        row: sqlite3.Row | None = conn.execute(
            f"SELECT * FROM accounts WHERE {column} = ?", (value,)
        ).fetchone()
        return row

    def account(self, account_id: str) -> Account:
        with self._read() as conn:
            row = self._account_row(conn, "id", account_id)
        if row is None:
            raise KeyError(account_id)
        return _account(row)

    def account_by_email(self, email: str) -> Account | None:
        """The oldest account with this email (case-insensitive), if any."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM accounts WHERE lower(email) = lower(?)"
                " ORDER BY created_at, rowid LIMIT 1",
                (email,),
            ).fetchone()
        return None if row is None else _account(row)

    def find_account(self, clerk_id: str) -> Account | None:
        with self._read() as conn:
            row = self._account_row(conn, "clerk_id", clerk_id)
        return None if row is None else _account(row)

    def set_organization(self, account_id: str, organization: OrgMembership | None) -> None:
        with self._write() as conn:
            self._set_organization(conn, account_id, organization)

    @staticmethod
    def _set_organization(
        conn: sqlite3.Connection, account_id: str, organization: OrgMembership | None
    ) -> None:
        conn.execute(
            "UPDATE accounts SET organization = ? WHERE id = ?",
            (None if organization is None else organization.to_json(), account_id),
        )

    def add_credits(self, account_id: str, amount: int, kind: str) -> int:
        with self._write() as conn:
            self._move(conn, account_id, amount, kind)
            return _balance(conn, account_id)

    def set_credits(self, account_id: str, credits: int) -> int:
        """Set a balance by writing the difference as an ``adjust`` row."""
        with self._write() as conn:
            self._move(conn, account_id, credits - _balance(conn, account_id), "adjust")
            return _balance(conn, account_id)

    # -- apps and the wallet ----------------------------------------------------------

    def create_app(self, slug: str, starter_credits: int) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO apps (slug, starter_credits, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (slug) DO UPDATE SET starter_credits = excluded.starter_credits",
                (slug, starter_credits, self._now()),
            )

    def _ensure_app(self, conn: sqlite3.Connection, slug: str) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO apps (slug, starter_credits, created_at) VALUES (?, ?, ?)",
            (slug, DEFAULT_STARTER_CREDITS, self._now()),
        )

    def wallet(self, account_id: str, app: str | None) -> dict[str, Any]:
        """The wallet body; with ``app``, its starter credits are granted once per account."""
        with self._write() as conn:
            if app is not None:
                self._ensure_app(conn, app)
                self._grant_once(conn, account_id, app)
            body: dict[str, Any] = {
                "account": _account_body(self._account_row(conn, "id", account_id)),
                "apps": _granted_apps(conn, account_id),
            }
        if app is not None:
            granted = next(a for a in body["apps"] if a["slug"] == app)
            body["app_grant"] = {
                "slug": app,
                "starter_credits": granted["starter_credits"],
                "granted": True,
            }
        return body

    def _grant_once(self, conn: sqlite3.Connection, account_id: str, app: str) -> None:
        inserted = conn.execute(
            "INSERT OR IGNORE INTO grants (account_id, app, granted_at) VALUES (?, ?, ?)",
            (account_id, app, self._now()),
        ).rowcount
        if inserted:
            starter = conn.execute(
                "SELECT starter_credits FROM apps WHERE slug = ?", (app,)
            ).fetchone()[0]
            self._move(conn, account_id, starter, "grant", app=app)

    # -- jobs -------------------------------------------------------------------------

    def reserve(
        self, account_id: str, app: str, action: str, cost: int, metadata: dict[str, Any]
    ) -> tuple[str, int]:
        """Start a job and reserve its estimate: ``(job_id, credits left)``.

        The debit is conditional on the balance covering it, in one statement, so
        concurrent reservations cannot both pass a check made before either wrote.
        """
        with self._write() as conn:
            self._ensure_app(conn, app)
            debited = conn.execute(
                "UPDATE accounts SET credits = credits - ? WHERE id = ? AND credits >= ?",
                (cost, account_id, cost),
            ).rowcount
            if not debited:
                raise InsufficientCredits(cost, _balance(conn, account_id))
            job_id = self._insert_job(conn, account_id, app, action, cost, metadata)
            if cost:
                self._ledger_row(conn, account_id, -cost, "reserve", job_id, app)
            return job_id, _balance(conn, account_id)

    def _insert_job(
        self,
        conn: sqlite3.Connection,
        account_id: str,
        app: str,
        action: str,
        cost: int,
        metadata: dict[str, Any],
    ) -> str:
        job_id = str(uuid.uuid4())
        request_id = metadata.get("request_id")
        now = self._now()
        conn.execute(
            "INSERT INTO jobs (id, account_id, app, action, status, cost_estimate, metadata,"
            " request_id, created_at, updated_at) VALUES (?, ?, ?, ?, 'started', ?, ?, ?, ?, ?)",
            (
                job_id,
                account_id,
                app,
                action,
                cost,
                json.dumps(metadata),
                request_id if isinstance(request_id, str) else None,
                now,
                now,
            ),
        )
        return job_id

    def complete(
        self, account_id: str, job_id: str, actual_cost: int, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        """Charge the actual cost: the unused reserve comes back, an overage is charged
        in full (the balance may go negative)."""
        request = {"settle": "complete", "actual_cost": actual_cost, "metadata": metadata}
        with self._write() as conn:
            job = _job_row(conn, account_id, job_id)
            if job["status"] != "started":
                return _repeat_settlement(job, request)
            self._move(
                conn, account_id, job["cost_estimate"] - actual_cost, "settle", job_id, job["app"]
            )
            merged = {**json.loads(job["metadata"]), **metadata}
            body = {
                "job_id": job_id,
                "status": "completed",
                "actual_cost": actual_cost,
                "credits": _balance(conn, account_id),
            }
            self._finish_job(conn, job_id, "completed", actual_cost, merged, request, body)
            return body

    def fail(self, account_id: str, job_id: str, refund: bool) -> dict[str, Any]:
        """Fail a job; with ``refund`` its whole reserve comes back, else it is spent."""
        request = {"settle": "fail", "refund": refund}
        with self._write() as conn:
            job = _job_row(conn, account_id, job_id)
            if job["status"] != "started":
                return _repeat_settlement(job, request)
            estimate = job["cost_estimate"]
            if refund:
                self._move(conn, account_id, estimate, "refund", job_id, job["app"])
            body = {
                "job_id": job_id,
                "status": "failed",
                "refunded": refund,
                "credits": _balance(conn, account_id),
            }
            spent = 0 if refund else estimate
            metadata = json.loads(job["metadata"])
            self._finish_job(conn, job_id, "failed", spent, metadata, request, body)
            return body

    def _finish_job(
        self,
        conn: sqlite3.Connection,
        job_id: str,
        status: str,
        actual_cost: int,
        metadata: dict[str, Any],
        request: dict[str, Any],
        body: dict[str, Any],
    ) -> None:
        conn.execute(
            "UPDATE jobs SET status = ?, actual_cost = ?, metadata = ?, settle_request = ?,"
            " settle_response = ?, updated_at = ? WHERE id = ? AND status = 'started'",
            (
                status,
                actual_cost,
                json.dumps(metadata),
                _canonical(request),
                json.dumps(body),
                self._now(),
                job_id,
            ),
        )

    def release_stale(self, max_age: float) -> int:
        """Fail with refund every job still started after ``max_age`` seconds (the
        service does this after 24 h); returns how many were released."""
        cutoff = self._now() - max_age
        with self._read() as conn:
            stale = conn.execute(
                "SELECT id, account_id FROM jobs WHERE status = 'started' AND created_at <= ?",
                (cutoff,),
            ).fetchall()
        released = 0
        for job_id, account_id in stale:
            try:
                self.fail(account_id, job_id, refund=True)
            except SettlementConflict:
                continue  # settled by its owner meanwhile
            released += 1
        return released

    def jobs(
        self, account_id: str, app: str | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """The account's jobs, newest first."""
        query = "SELECT * FROM jobs WHERE account_id = ?"
        params: list[Any] = [account_id]
        if app is not None:
            query += " AND app = ?"
            params.append(app)
        if status is not None:
            query += " AND status = ?"
            params.append(status)
        query += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        params.append(limit)
        with self._read() as conn:
            return [_job_body(row) for row in conn.execute(query, params)]

    def ledger(self, account_id: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM ledger WHERE account_id = ? ORDER BY id", (account_id,)
            ).fetchall()
        return [
            {
                "id": row["id"],
                "amount": row["amount"],
                "kind": row["kind"],
                "job_id": row["job_id"],
                "app": row["app"],
                "created_at": iso(row["created_at"]),
            }
            for row in rows
        ]

    def book_errors(self) -> list[str]:
        """Every account whose balance is not the sum of its ledger, and every job whose
        ledger rows do not add up to what it holds (estimate) or cost (once settled)."""
        with self._read() as conn:
            balances = conn.execute(
                "SELECT a.id, a.clerk_id, a.credits, COALESCE(SUM(l.amount), 0) AS total"
                " FROM accounts a LEFT JOIN ledger l ON l.account_id = a.id"
                " GROUP BY a.id HAVING a.credits != total"
            ).fetchall()
            jobs = conn.execute(
                "SELECT j.id, a.clerk_id, j.account_id, j.status, j.cost_estimate,"
                " j.actual_cost, COALESCE(SUM(l.amount), 0) AS total"
                " FROM jobs j JOIN accounts a ON a.id = j.account_id"
                " LEFT JOIN ledger l ON l.job_id = j.id GROUP BY j.id"
            ).fetchall()
        errors = [
            f"account {r['clerk_id']} ({r['id']}): balance {r['credits']} != ledger {r['total']}"
            for r in balances
        ]
        for r in jobs:
            cost = r["cost_estimate"] if r["status"] == "started" else r["actual_cost"]
            if r["total"] != -cost:
                errors.append(
                    f"account {r['clerk_id']} ({r['account_id']}): job {r['id']}"
                    f" ({r['status']}) has ledger {r['total']}, expected {-cost}"
                )
        return errors

    # -- credentials and sessions -----------------------------------------------------

    def add_pat(self, account_id: str, token_hash: str) -> None:
        with self._write() as conn:
            self.insert_pat(conn, account_id, token_hash)

    def insert_pat(self, conn: sqlite3.Connection, account_id: str, token_hash: str) -> None:
        """Store a PAT's hash inside the caller's transaction (the device flow redeems a
        code and creates its PAT in one)."""
        now = self._now()
        conn.execute(
            "INSERT INTO pats (hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (token_hash, account_id, now, now + PAT_LIFETIME),
        )

    def pat_account(self, token_hash: str) -> Account | None:
        """The account of a live PAT (not revoked, not expired), by its hash."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT a.* FROM pats p JOIN accounts a ON a.id = p.account_id"
                " WHERE p.hash = ? AND p.revoked = 0 AND p.expires_at > ?",
                (token_hash, self._now()),
            ).fetchone()
        return None if row is None else _account(row)

    def revoke_pats(self, account_id: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE pats SET revoked = 1 WHERE account_id = ?", (account_id,))

    def create_session(
        self, account_id: str, session_id: str, secret_hash: str | None = None
    ) -> None:
        """A sign-in session. With ``secret_hash`` a browser can use it through the
        sign-in cookie (which holds the secret, never the session id: the id is the
        ``sid`` claim of every token, and a token must not be a way to mint more)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO sessions (id, account_id, created_at, secret_hash)"
                " VALUES (?, ?, ?, ?)",
                (session_id, account_id, self._now(), secret_hash),
            )

    def signin_session(
        self, secret_hash: str, max_age: float
    ) -> tuple[str, float, Account] | None:
        """The live session (not ended, not older than ``max_age``) whose cookie secret
        hashes to ``secret_hash``: its id, when it signed in, and its account."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT s.id AS session_id, s.created_at AS signed_in_at, a.* FROM sessions s"
                " JOIN accounts a ON a.id = s.account_id"
                " WHERE s.secret_hash = ? AND s.ended_at IS NULL AND s.created_at > ?",
                (secret_hash, self._now() - max_age),
            ).fetchone()
        if row is None:
            return None
        return str(row["session_id"]), float(row["signed_in_at"]), _account(row)

    def session_holder(self, session_id: str) -> tuple[float, Account] | None:
        """When a session (ended or not) signed in, and its account: what a token minted
        for it carries."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT s.created_at AS signed_in_at, a.* FROM sessions s"
                " JOIN accounts a ON a.id = s.account_id WHERE s.id = ?",
                (session_id,),
            ).fetchone()
        return None if row is None else (float(row["signed_in_at"]), _account(row))

    def end_session(self, session_id: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                (self._now(), session_id),
            )

    def first_session(self, account_id: str) -> str | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT id FROM sessions WHERE account_id = ? AND ended_at IS NULL"
                " ORDER BY created_at, rowid LIMIT 1",
                (account_id,),
            ).fetchone()
        return None if row is None else str(row[0])

    # -- connected OAuth providers (emulated tokens, stored as given) ------------------

    def connect_oauth(self, account_id: str, provider: str, token: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO oauth_connections (account_id, provider, token) VALUES (?, ?, ?)"
                " ON CONFLICT (account_id, provider) DO UPDATE SET token = excluded.token",
                (account_id, provider, token),
            )

    def oauth_token(self, account_id: str, provider: str) -> str | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT token FROM oauth_connections WHERE account_id = ? AND provider = ?",
                (account_id, provider),
            ).fetchone()
        return None if row is None else str(row[0])

    def oauth_account(self, provider: str, token: str) -> Account | None:
        """Whose emulated provider token this is (the provider's own "who am I")."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT a.* FROM oauth_connections o JOIN accounts a ON a.id = o.account_id"
                " WHERE o.provider = ? AND o.token = ?",
                (provider, token),
            ).fetchone()
        return None if row is None else _account(row)

    # -- signing keys (the issuer's; crypto lives in issuer.py) -----------------------

    def add_key(self, kid: str, private_pem: str, grace: float) -> None:
        """Store a new signing key; the previous one stops signing and stays published
        for ``grace`` seconds."""
        now = self._now()
        with self._write() as conn:
            conn.execute(
                "UPDATE keys SET retired_at = ?, published_until = ? WHERE retired_at IS NULL",
                (now, now + grace),
            )
            conn.execute(
                "INSERT INTO keys (kid, private_pem, created_at) VALUES (?, ?, ?)",
                (kid, private_pem, now),
            )

    def published_keys(self) -> list[StoredKey]:
        """The signing key first, then retired keys still within their grace."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT kid, private_pem, published_until FROM keys"
                " WHERE retired_at IS NULL OR published_until > ?"
                " ORDER BY retired_at IS NOT NULL, created_at DESC",
                (self._now(),),
            ).fetchall()
        return [StoredKey(r["kid"], r["private_pem"], r["published_until"]) for r in rows]


def _balance(conn: sqlite3.Connection, account_id: str) -> int:
    row = conn.execute("SELECT credits FROM accounts WHERE id = ?", (account_id,)).fetchone()
    if row is None:
        raise KeyError(account_id)
    return int(row[0])


def _account(row: sqlite3.Row) -> Account:
    return Account(
        row["id"],
        row["clerk_id"],
        row["email"],
        row["plan"],
        row["credits"],
        row["name"],
        OrgMembership.from_json(row["organization"]),
    )


def _account_body(row: sqlite3.Row | None) -> dict[str, Any]:
    assert row is not None
    body = {
        "id": row["id"],
        "clerk_id": row["clerk_id"],
        "plan": row["plan"],
        "credits": row["credits"],
    }
    # Who the person is, which the contract does not promise (assumed): apps read them
    # tolerantly, and the emulator sends those it knows so pages greet people by name.
    body.update({key: row[key] for key in ("name", "email") if row[key]})
    return body


def _granted_apps(conn: sqlite3.Connection, account_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT a.slug, a.starter_credits, g.granted_at FROM grants g"
        " JOIN apps a ON a.slug = g.app WHERE g.account_id = ? ORDER BY g.granted_at, a.slug",
        (account_id,),
    ).fetchall()
    return [
        {
            "slug": r["slug"],
            "starter_credits": r["starter_credits"],
            "granted": True,
            "granted_at": iso(r["granted_at"]),
        }
        for r in rows
    ]


def _job_row(conn: sqlite3.Connection, account_id: str, job_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM jobs WHERE id = ? AND account_id = ?", (job_id, account_id)
    ).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    return row


def _canonical(request: dict[str, Any]) -> str:
    return json.dumps(request, sort_keys=True, separators=(",", ":"))


def _repeat_settlement(job: sqlite3.Row, request: dict[str, Any]) -> dict[str, Any]:
    """Settling is final: the same settlement again gets the first answer, another 409."""
    if job["settle_request"] != _canonical(request):
        raise SettlementConflict(job["status"])
    body: dict[str, Any] = json.loads(job["settle_response"])
    return body


def _job_body(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "app": row["app"],
        "action": row["action"],
        "status": row["status"],
        "cost_estimate": row["cost_estimate"],
        "actual_cost": row["actual_cost"],
        "metadata": json.loads(row["metadata"]),
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }
