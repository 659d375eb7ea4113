"""``focus whoami | wallet | jobs | print-token | logout``.

Each reads the token for the base URL (:mod:`context`), asks Focus one question and
prints the answer as a table, or as JSON with ``--json`` (stable keys: the contract's own
shapes, plus where the token came from). ``print-token`` is the only command that ever
writes a token out: the others must be safe to paste into a bug report.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from focus_middleware.cli.context import (
    credential_store,
    describe,
    logged_in,
    make_client,
    refused_as_not_logged_in,
)
from focus_middleware.cli.output import emit_json, pairs, printable, table


def run_whoami(args: argparse.Namespace) -> int:
    _, credential = logged_in(args)
    with make_client(credential.base_url, credential.token) as client, refused_as_not_logged_in(credential):
        wallet = client.wallet()
    account = wallet.account
    if args.json:
        emit_json(
            {
                "base_url": credential.base_url,
                "clerk_id": account.clerk_id,
                "account_id": account.id,
                "plan": account.plan,
                "credits": account.credits,
                "token_source": credential.source,
            }
        )
        return 0
    pairs(
        [
            ("Focus", credential.base_url),
            ("User", account.clerk_id),
            ("Account", account.id),
            ("Plan", account.plan),
            ("Credits", account.credits),
            ("Token from", describe(credential)),
        ]
    )
    return 0


def run_wallet(args: argparse.Namespace) -> int:
    # Never ``?app=``: the contract makes that call grant the app's starter credits, and
    # looking at a wallet must not change it. ``--app`` filters the answer instead.
    _, credential = logged_in(args)
    with make_client(credential.base_url, credential.token) as client, refused_as_not_logged_in(credential):
        wallet = client.wallet()
    if args.app:
        wallet = dataclasses.replace(wallet, apps=tuple(a for a in wallet.apps if a.slug == args.app))
    if args.json:
        emit_json(wallet.to_json())
        return 0
    account = wallet.account
    pairs([("User", account.clerk_id), ("Plan", account.plan), ("Credits", account.credits)])
    if args.app and not wallet.apps:
        print(f"\nNo credits from {printable(args.app)} yet: an app's starter credits come with its first use.")
    elif wallet.apps:
        print()
        table(
            ["APP", "STARTER CREDITS", "GRANTED", "GRANTED AT"],
            [(a.slug, a.starter_credits, a.granted, a.granted_at) for a in wallet.apps],
        )
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    _, credential = logged_in(args)
    with make_client(credential.base_url, credential.token) as client, refused_as_not_logged_in(credential):
        jobs = client.list_jobs(args.app or None, args.status, args.limit)
    if args.json:
        emit_json({"jobs": [job.to_json() for job in jobs]})
        return 0
    if not jobs:
        print("No jobs.")
        return 0
    table(
        ["ID", "APP", "ACTION", "STATUS", "ESTIMATE", "ACTUAL", "CREATED", "DESCRIPTION"],
        [
            (
                job.id,
                job.app,
                job.action,
                job.status,
                job.cost_estimate,
                job.actual_cost,
                job.created_at,
                job.metadata.get("description"),
            )
            for job in jobs
        ],
    )
    return 0


def run_print_token(args: argparse.Namespace) -> int:
    # No network call: a script may want the token precisely because Focus is being
    # reached some other way. The token goes to stdout alone, for $(focus print-token).
    _, credential = logged_in(args)
    sys.stdout.write(credential.token + "\n")
    sys.stdout.flush()
    return 0


def run_logout(args: argparse.Namespace) -> int:
    store = credential_store(args)
    removed = store.delete()
    if removed:
        print(f"Logged out of {store.base_url}: removed the token from {' and '.join(removed)}.")
    else:
        print(f"No stored token for {store.base_url}.")
    if store.env_token is not None:
        print("Note: FOCUS_TOKEN is still set in this environment, and is still used.", file=sys.stderr)
    return 0
