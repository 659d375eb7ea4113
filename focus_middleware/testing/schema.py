"""The emulator's SQLite schema, and how an older database file is brought up to date.

A file-backed emulator is reopened across runs (``focus demo`` keeps its user), so a
schema change is a migration, never "delete your database". Version 1 had no names on
accounts, no secrets on sign-in sessions and no client on device codes; version 2 adds
them as nullable columns. Version 3 adds the user's active organisation (JSON, nullable).
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    clerk_id TEXT NOT NULL UNIQUE,
    email TEXT,
    plan TEXT NOT NULL DEFAULT 'free',
    credits INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    name TEXT,
    organization TEXT
);
CREATE TABLE IF NOT EXISTS apps (
    slug TEXT PRIMARY KEY,
    starter_credits INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS grants (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    app TEXT NOT NULL REFERENCES apps(slug),
    granted_at REAL NOT NULL,
    PRIMARY KEY (account_id, app)
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    app TEXT NOT NULL REFERENCES apps(slug),
    action TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('started', 'completed', 'failed')),
    cost_estimate INTEGER NOT NULL,
    actual_cost INTEGER,
    metadata TEXT NOT NULL DEFAULT '{}',
    request_id TEXT,
    settle_request TEXT,
    settle_response TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_account ON jobs (account_id, created_at);
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    amount INTEGER NOT NULL,
    kind TEXT NOT NULL
        CHECK (kind IN ('grant', 'purchase', 'reserve', 'settle', 'refund', 'adjust')),
    job_id TEXT REFERENCES jobs(id),
    app TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_by_account ON ledger (account_id);
CREATE INDEX IF NOT EXISTS ledger_by_job ON ledger (job_id);
CREATE TABLE IF NOT EXISTS pats (
    hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    created_at REAL NOT NULL,
    ended_at REAL,
    secret_hash TEXT
);
CREATE TABLE IF NOT EXISTS device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
    account_id TEXT REFERENCES accounts(id),
    interval INTEGER NOT NULL DEFAULT 5,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    last_poll_at REAL,
    client_name TEXT,
    client_address TEXT
);
CREATE TABLE IF NOT EXISTS oauth_connections (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    provider TEXT NOT NULL,
    token TEXT NOT NULL,
    PRIMARY KEY (account_id, provider)
);
CREATE TABLE IF NOT EXISTS keys (
    kid TEXT PRIMARY KEY,
    private_pem TEXT NOT NULL,
    created_at REAL NOT NULL,
    retired_at REAL,
    published_until REAL
);
"""

# Indexes on columns a version-1 file lacks: created after its migration.
INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS sessions_by_secret ON sessions (secret_hash);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_at);
CREATE INDEX IF NOT EXISTS oauth_by_token ON oauth_connections (provider, token);
"""

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE accounts ADD COLUMN name TEXT",
        "ALTER TABLE sessions ADD COLUMN secret_hash TEXT",
        "ALTER TABLE device_codes ADD COLUMN client_name TEXT",
        "ALTER TABLE device_codes ADD COLUMN client_address TEXT",
    ),
    2: ("ALTER TABLE accounts ADD COLUMN organization TEXT",),
}


def _run(conn: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def create_or_migrate(conn: sqlite3.Connection) -> None:
    """Bring the database to ``SCHEMA_VERSION`` inside the caller's transaction."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"emulator database has schema version {version}, newer than this code")
    if version == 0:  # a new file: the current schema at once
        _run(conn, SCHEMA)
        version = SCHEMA_VERSION
    for step in range(version, SCHEMA_VERSION):
        for statement in MIGRATIONS[step]:
            conn.execute(statement)
    _run(conn, INDEXES)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
