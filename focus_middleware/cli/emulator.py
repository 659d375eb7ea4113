"""``focus emulator`` and ``focus demo``: the local Focus emulator in the foreground.

``focus emulator`` serves it on a persistent database; ``focus demo``
(:mod:`focus_middleware.cli.demo`) adds a seeded user and an example app and prints what
to open. Both stop on Ctrl-C (exit 0: stopping is how they are meant to end).
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import threading
from typing import TYPE_CHECKING

from focus_middleware.cli.demo import DEFAULT_APP_PORT, DEFAULT_FRAMEWORK, FRAMEWORKS, make_emulator, port_clash, run_demo

if TYPE_CHECKING:
    from focus_middleware.testing.emulator import FocusEmulator

DEFAULT_PORT = 8787


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> str | None:
    """The loud warning for serving the emulator beyond this machine, if it is."""
    if is_loopback(host):
        return None
    return (
        f"WARNING: the Focus emulator is listening on {host}, not on a loopback address.\n"
        "WARNING: anyone who can reach it can sign in as any user, mint session tokens and\n"
        "WARNING: personal access tokens, and add credits. It is a development tool: use\n"
        "WARNING: --host 127.0.0.1 (the default) unless you really mean this."
    )


def _serve_until_interrupted(emulator: FocusEmulator) -> int:
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nstopping the Focus emulator")
    finally:
        emulator.stop()
    return 0


def run_emulator(args: argparse.Namespace) -> int:
    warning = exposure_warning(args.host)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    try:
        emulator = make_emulator(args).start()
    except ValueError as exc:  # an --allow-origin that is not an origin
        print(f"focus emulator: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the port is taken, or not ours to use
        print(port_clash("emulator", args.host, args.port, "--port", exc), file=sys.stderr)
        return 1
    print(f"Focus emulator on {emulator.url} (database {args.db}); Ctrl-C stops it", flush=True)
    print(
        f"sign in: {emulator.url}/signin   devices: {emulator.url}/device   "
        f"credits: {emulator.url}/billing   API: {emulator.url}/api/docs",
        flush=True,
    )
    return _serve_until_interrupted(emulator)


def _add_server_options(parser: argparse.ArgumentParser, host: str) -> None:
    parser.add_argument("--host", default=host, help=f"address to serve on (default {host})")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)"
    )
    parser.add_argument(
        "--db",
        help="SQLite file, or :memory: (default $FOCUS_EMULATOR_DB or .focus-emulator/emulator.db)",
    )


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``emulator`` and ``demo`` to the ``focus`` parser's subcommands."""
    emulator = commands.add_parser("emulator", help="run the local Focus emulator")
    _add_server_options(emulator, "127.0.0.1")
    emulator.add_argument(
        "--allow-origin",
        action="append",
        metavar="ORIGIN",
        help="also trust this origin (scheme://host[:port]) for sign-in redirects and CORS;"
        " loopback origins always are (repeatable)",
    )
    emulator.add_argument(
        "--session-cookie-domain",
        metavar="DOMAIN",
        help="also set Clerk's __session cookie on this parent domain at sign-in,"
        " as for apps on *.thefocus.ai",
    )
    emulator.set_defaults(run=run_emulator)
    demo = commands.add_parser(
        "demo",
        help="run the emulator, a seeded user and an example app (Ctrl-C stops them)",
        description="Run the Focus emulator on localhost with a seeded user, and the Clip Studio"
        " example app on 127.0.0.1 (another site: the sign-in return trip is real).",
    )
    # localhost, not 127.0.0.1: apps run on 127.0.0.1, and cookies ignore ports.
    _add_server_options(demo, "localhost")
    demo.add_argument(
        "--framework",
        choices=sorted(FRAMEWORKS),
        default=DEFAULT_FRAMEWORK,
        help=f"which example app to run (default {DEFAULT_FRAMEWORK}; starlette is the same app)",
    )
    demo.add_argument(
        "--app-port",
        type=int,
        default=DEFAULT_APP_PORT,
        help=f"the app's port on 127.0.0.1 (default {DEFAULT_APP_PORT}; 0 = any free port)",
    )
    demo.set_defaults(run=run_demo)
