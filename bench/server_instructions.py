"""Instructions per request inside uvicorn's own process: the bare app, the required-surface
floor and Focus, counted under ``valgrind --tool=callgrind``.

``wrk_bench`` measures requests per second under uvicorn, but one run of a server differs
from the next by several percent on a shared VM, about as much as Focus costs there. This
counts what the server process executes instead, which repeats to about 1 % (glibc's
malloc moves with the heap's layout): each app is served twice under callgrind, for
``--base`` and for ``--base + --requests`` sequential keep-alive requests with one cached
bearer JWT, and the difference of the two totals (every thread) divided by ``--requests``
is the cost of one request, with the server's start-up and shutdown taken out. It shows what a real server adds to the
in-process figures: uvicorn's h11 checks and writes every response header in Python, so
the two headers every middleware with the required surface adds cost more there.

``python -m bench.server_instructions`` (a few minutes; needs valgrind) uses whatever
uvicorn picks (``--http auto``: httptools when installed, else h11), or ``--http``.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

import httpx

from bench.env import ORIGIN, bench_env
from bench.wrk_bench import ROOT, _free_port, _http_parser

APPS = ("bare", "floor", "focus")
LABELS = {"bare": "bare Starlette", "floor": "floor: required surface", "focus": "FocusMiddleware, cached JWT"}


def _served(app: str, requests: int, http: str, environ: dict[str, str], headers: dict[str, str], out: str) -> int:
    """Instructions of uvicorn's process (every thread) serving ``app`` from start to exit,
    answering ``requests`` requests after five to warm up."""
    port = _free_port()
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out}",
         sys.executable, "-m", "uvicorn", "--factory", f"bench.wrk_app:{app}", "--host", "127.0.0.1",
         "--port", str(port), "--http", http, "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                httpx.get(url, timeout=30)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn ({app}) did not start under valgrind") from None
                time.sleep(0.5)
        with httpx.Client(timeout=60) as client:
            for _ in range(5 + requests):
                if client.get(url, headers=headers).status_code != 200:
                    raise RuntimeError(f"{app} did not answer 200 with the bench token")
    finally:
        server.terminate()
        server.wait(300)
    total = 0
    for dump in glob.glob(out + "*"):
        with open(dump, errors="replace") as lines:
            total += sum(int(line.split()[1]) for line in lines if line.startswith("totals:"))
    return total


def run(*, requests: int = 500, base: int = 100, http: str | None = None) -> str:
    http = http or _http_parser()
    title = (f"instructions per request in uvicorn's process (bench/server_instructions.py), HTTP by {http}, "
             f"callgrind: ({base} + {requests} requests) - ({base}), one cached bearer JWT")
    if shutil.which("valgrind") is None:
        return f"{title}\n  skipped: valgrind not installed (apt-get install valgrind)"
    counts: dict[str, float] = {}
    with bench_env() as env, tempfile.TemporaryDirectory() as out:
        # The wallet stays cached however slowly valgrind serves; a hash seed fixed for both runs.
        environ = {**os.environ, "FOCUS_API_URL": env.config.api_url, "FOCUS_ISSUER": env.config.issuer or "",
                   "FOCUS_APP": "bench", "FOCUS_PUBLIC_ORIGIN": ORIGIN, "FOCUS_WALLET_TTL": "86400",
                   "PYTHONHASHSEED": "0"}
        headers = {"authorization": f"Bearer {env.token}"}
        for app in APPS:
            short = _served(app, base, http, environ, headers, f"{out}/{app}.short")
            long = _served(app, base + requests, http, environ, headers, f"{out}/{app}.long")
            counts[app] = (long - short) / requests
    bare = counts["bare"]
    rows = [title, f"{'app':<30}{'instructions':>14}{'added':>10}{'ratio':>8}"]
    for app in APPS:
        rows.append(f"{LABELS[app]:<30}{counts[app] / 1e3:>13.1f}k{(counts[app] - bare) / 1e3:>+9.1f}k"
                    f"{counts[app] / bare:>7.3f}x")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.server_instructions", description=__doc__)
    parser.add_argument("--requests", type=int, default=500, help="requests counted per app (default 500)")
    parser.add_argument("--base", type=int, default=100, help="requests of the shorter run (default 100)")
    parser.add_argument("--http", choices=("h11", "httptools"), help="uvicorn's HTTP implementation (default: auto)")
    args = parser.parse_args(argv)
    print(run(requests=args.requests, base=args.base, http=args.http))


if __name__ == "__main__":
    main()
