"""The non-paid hot path, this tree against a reference commit (issue 19: "within 5 % of
before, in interleaved rounds").

    python -m bench.compare [--ref 58781e0] [--head REF] [--rounds 7] [--bound 5]
                            [--instructions] [--profile]

Why it is built this way:

- Both trees are measured by the same interpreter (this venv) in child processes, each
  with ``PYTHONPATH`` set to its tree (``-P`` so the working directory never shadows it);
  the child reports the ``__file__`` of the packages it imported, so a mix-up shows. The
  reference is ``git archive``\\ d into a temporary directory (no worktree to clean up);
  the head is the checkout as it is on disk, or ``--head REF`` archived like the reference.
- Rounds alternate ref/head (AB BA AB ...) so a slow spell on this shared machine falls on
  both; a child takes the best of many short batches per case (timeit style, ``gc`` off),
  and the table shows the median and the min of those over the rounds.
- ``--instructions`` counts CPU instructions per request under ``valgrind --tool=callgrind``
  (``perf`` has no hardware counters on this VM): deterministic, so a 5 % bound is shown
  without noise. Counting starts at ``os.getppid()`` and each case's count is dumped at
  ``os.getpgrp()`` (``--zero-before``/``--dump-before``), so only the measured requests of
  the main thread are counted: no start-up, no set-up, no emulator thread.
- ``--profile`` runs cProfile over the cases above the bound and lists the Python
  functions head calls more (or less) often per request, to say where an excess comes from.

Only names public in both trees are used, imported inside the child: modules are being
moved, and the reference predates most of the package. The caches (JWKS, claims, wallet)
are warmed before measuring and their TTLs set long, so no request leaves the process.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "http://127.0.0.1:8000"
CASES = ["asgi_bearer", "asgi_anonymous", "wsgi_bearer", "wsgi_anonymous", "flask_bearer", "django_bearer"]
LABELS = {
    "asgi_bearer": "ASGI Starlette, bearer (cached)",
    "asgi_anonymous": "ASGI Starlette, no credentials",
    "wsgi_bearer": "Werkzeug WSGI, bearer, account read",
    "wsgi_anonymous": "Werkzeug WSGI, no credentials",
    "flask_bearer": "Flask, bearer, current_account",
    "django_bearer": "Django, bearer, account read",
}
Call = Callable[[], None]

# Django's ROOT_URLCONF in the child is this module (``__main__`` there); filled by _django.
urlpatterns: list[Any] = []


# --- the child: build the cases from one tree and measure them ------------------------


def _cases(url: str, token: str) -> dict[str, Call]:
    """One zero-argument callable per case, each serving one full request and checking
    it answered 200 (and, for bearer cases, that the account was really resolved)."""
    from focus_middleware.config import FocusConfig

    # Long TTLs: the wallet must stay cached however slowly valgrind runs the requests.
    config = FocusConfig(api_url=url, issuer=url, app="bench", public_origin=ORIGIN, wallet_ttl=86400.0)
    return {**_asgi(config, token), **_wsgi(config, token), **_flask(config, token), **_django(url, token)}


def _asgi(config: Any, token: str) -> dict[str, Call]:
    import asyncio

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    from focus_middleware.asgi import FocusMiddleware

    async def hello(request: Request) -> Response:
        return PlainTextResponse("hello")

    async def me(request: Request) -> Response:
        account = request.state.focus_account
        return PlainTextResponse(account.clerk_id, status_code=200 if account else 500)

    app = FocusMiddleware(Starlette(routes=[Route("/", hello), Route("/me", me)]), config=config)
    loop = asyncio.new_event_loop()

    def request(path: str, headers: list[tuple[bytes, bytes]]) -> Call:
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"application/json"), *headers],
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        async def one() -> None:
            # Header values new per request, as a server parses them: a bytes object keeps
            # its hash, and a tree that hashes the header must not be timed on a cached one.
            # (Inline: the reference tree may have no bench/asgi_bench.as_parsed.)
            await app({**scope, "headers": [(n, b"".join((v, b""))) for n, v in scope["headers"]]}, receive, send)

        def call() -> None:
            loop.run_until_complete(one())
            if statuses.pop() != 200:
                raise RuntimeError(f"ASGI {path} did not answer 200")

        call.loop, call.one = loop, one  # type: ignore[attr-defined]  # batches run inside the loop
        return call

    return {"asgi_bearer": request("/me", [(b"authorization", f"Bearer {token}".encode())]),
            "asgi_anonymous": request("/", [])}


def _wsgi_call(app: Callable[..., Any], path: str, headers: dict[str, str]) -> Call:
    """A request to a WSGI app, its body iterated and closed as a server does."""
    http = {"HTTP_HOST": "127.0.0.1:8000", "HTTP_ACCEPT": "application/json", **headers}
    base = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.errors": io.StringIO(), "wsgi.multithread": False, "wsgi.multiprocess": False,
            "wsgi.run_once": False, **http}
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        statuses.append(status)
        return lambda data: None

    def call() -> None:
        # Header values new per request, as a server makes them (see the ASGI case): a str
        # keeps its hash too. Every header, for both trees alike.
        environ = {**base, "wsgi.input": io.BytesIO()}
        environ.update({key: "".join((value, "")) for key, value in http.items()})
        body = app(environ, start_response)
        try:
            for _ in body:
                pass
        finally:
            if hasattr(body, "close"):
                body.close()
        if not statuses.pop().startswith("200"):
            raise RuntimeError(f"WSGI {path} did not answer 200")

    return call


def _wsgi(config: Any, token: str) -> dict[str, Call]:
    from werkzeug.wrappers import Request, Response

    from focus_middleware.wsgi import FocusWSGIMiddleware

    def inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if request.path == "/me":
            account = environ.get("focus.account")
            response = Response(account.clerk_id, status=200) if account else Response("none", status=500)
        else:
            response = Response("hello")
        return response(environ, start_response)

    app = FocusWSGIMiddleware(inner, config=config)
    return {"wsgi_bearer": _wsgi_call(app, "/me", {"HTTP_AUTHORIZATION": f"Bearer {token}"}),
            "wsgi_anonymous": _wsgi_call(app, "/", {})}


def _flask(config: Any, token: str) -> dict[str, Call]:
    from flask import Flask
    from flask_focus import Focus, current_account

    app = Flask("bench")

    @app.get("/me")
    def me() -> tuple[str, int]:
        return (current_account.clerk_id, 200) if current_account else ("none", 500)

    Focus(app, config=config)
    return {"flask_bearer": _wsgi_call(app.wsgi_app, "/me", {"HTTP_AUTHORIZATION": f"Bearer {token}"})}


def _django(url: str, token: str) -> dict[str, Call]:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False, SECRET_KEY="bench", ALLOWED_HOSTS=["127.0.0.1"], ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django_focus"], MIDDLEWARE=["django_focus.middleware.FocusMiddleware"],
        USE_TZ=True, DATABASES={},
        FOCUS={"api_url": url, "issuer": url, "app": "bench", "public_origin": ORIGIN, "wallet_ttl": 86400.0},
    )
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.http import HttpResponse
    from django.urls import path

    def me(request: Any) -> HttpResponse:
        return HttpResponse(b"hello", status=200 if request.focus_account else 500)

    urlpatterns[:] = [path("me", me)]
    return {"django_bearer": _wsgi_call(WSGIHandler(), "/me", {"HTTP_AUTHORIZATION": f"Bearer {token}"})}


def _batch(call: Call, number: int) -> float:
    """Seconds for ``number`` requests in a row; an ASGI case runs them in one loop turn."""
    loop, one = getattr(call, "loop", None), getattr(call, "one", None)
    if loop is not None and one is not None:

        async def many() -> float:
            start = time.perf_counter()
            for _ in range(number):
                await one()
            return time.perf_counter() - start

        return float(loop.run_until_complete(many()))
    start = time.perf_counter()
    for _ in range(number):
        call()
    return time.perf_counter() - start


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure the cases of ``spec`` against the tree on ``sys.path``; a JSON-able result."""
    import django_focus
    import flask_focus
    import focus_middleware
    from focus_middleware.testing import FocusEmulator

    result: dict[str, Any] = {"files": [focus_middleware.__file__, flask_focus.__file__, django_focus.__file__]}
    with FocusEmulator(db=":memory:") as emu:
        emu.create_app("bench", starter_credits=0)
        user = emu.create_user(credits=100)
        token = user.session_jwt(azp=ORIGIN, lifetime=6 * 3600)
        cases = _cases(emu.url, token)
        for name in spec["cases"]:  # warm every case first: JWKS, claims, wallet, specialisation
            for _ in range(spec["warm"]):
                cases[name]()
        gc.collect()
        gc.disable()
        if spec["mode"] == "time":
            result["seconds"] = {name: min(_batch(cases[name], spec["number"]) for _ in range(spec["repeat"]))
                                 / spec["number"] for name in spec["cases"]}
        elif spec["mode"] == "instructions":
            for name in spec["cases"]:
                os.getppid()  # callgrind --zero-before=getppid
                _batch(cases[name], spec["number"])
                os.getpgrp()  # callgrind --dump-before=getpgrp
        else:  # profile: Python functions' own time per request, by (file in tree, function)
            result["profile"] = {}
            for name in spec["cases"]:
                profiler = cProfile.Profile()
                profiler.enable()
                _batch(cases[name], spec["number"])
                profiler.disable()
                stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
                rows: dict[str, list[Any]] = {}
                for (file, _line, func), (_cc, calls, tottime, _ct, _callers) in stats.items():
                    where = _short(file)
                    row = rows.setdefault(f"{_package(where)}:{func}", [0.0, 0.0, where])
                    row[0] += calls / spec["number"]
                    row[1] += tottime / spec["number"]
                result["profile"][name] = rows
        gc.enable()
    return result


def _short(file: str) -> str:
    """A function's file without the tree or site-packages prefix."""
    if file == str(Path(__file__).resolve()):
        return "bench/compare.py"
    for marker in ("site-packages/", "/integrations/flask/", "/integrations/django/"):
        if marker in file:
            return file.split(marker, 1)[1]
    for root in sys.path:
        if root and file.startswith(root.rstrip("/") + "/"):
            return file[len(root.rstrip("/")) + 1:]
    return file


def _package(where: str) -> str:
    """What a function is matched on across the trees besides its name: our packages by
    package only (modules are being moved between them), anything else by its file."""
    top = where.split("/", 1)[0]
    return top if top in ("focus_middleware", "flask_focus", "django_focus") else where


# --- the parent: trees, rounds, table --------------------------------------------------


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def _archive(ref: str, into: Path) -> Path:
    """The tree of ``ref`` extracted into ``into`` (git archive: nothing to unregister later)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _run_child(tree: Path, spec: dict[str, Any], prefix: list[str] | None = None) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter that imports from ``tree`` only."""
    # No FOCUS_* from the environment (both trees get the same settings); a fixed hash seed
    # so dict and set layouts, hence instruction counts, repeat.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOCUS_")}
    env.update(PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join(str(tree / p) for p in ("", "integrations/flask", "integrations/django")))
    command = [*(prefix or []), sys.executable, "-P", str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"child in {tree} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    for file in result["files"]:
        if not Path(file).resolve().is_relative_to(tree.resolve()):
            raise RuntimeError(f"child for {tree} imported {file}")
    return result


def _instructions(tree: Path, cases: list[str], number: int, out: Path) -> dict[str, float]:
    """Instructions per request of each case (main thread only) under callgrind."""
    out.mkdir(parents=True)
    prefix = ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--zero-before=getppid",
              "--dump-before=getpgrp", f"--callgrind-out-file={out}/cg.out"]
    _run_child(tree, {"mode": "instructions", "cases": cases, "number": number, "warm": 50}, prefix)
    dumps = sorted(out.glob("cg.out.*-01"))
    if len(dumps) != len(cases):  # a marker called by something else would shift the cases
        raise RuntimeError(f"callgrind wrote {len(dumps)} dumps for {len(cases)} cases")
    counts: dict[str, float] = {}
    for index, name in enumerate(cases, start=1):  # dump n holds the n-th case; thread 1 is main
        text = (out / f"cg.out.{index}-01").read_text()
        total = next(line for line in text.splitlines() if line.startswith(("totals:", "summary:")))
        counts[name] = int(total.split()[1]) / number
    return counts


def _profile(trees: dict[str, Path], cases: list[str], number: int) -> str:
    """Per case: the Python functions head calls more (or less) often per request than ref.
    Call counts are exact; cProfile's times are inflated and move with the machine's load,
    so they only rank what the counts single out."""
    spec = {"mode": "profile", "cases": cases, "number": max(number, 2000), "warm": 200}
    got = {side: _run_child(tree, spec)["profile"] for side, tree in trees.items()}
    out = []
    for name in cases:
        ref, head = got["ref"][name], got["head"][name]
        total = [sum(v[1] for v in side.values()) * 1e6 for side in (ref, head)]
        out.append(f"\nprofile of {LABELS[name]} (cProfile in both trees, {spec['number']} requests; "
                   f"own time per request of all functions: ref {total[0]:.1f} us, head {total[1]:.1f} us)")
        none = [0.0, 0.0, ""]
        changed = [(head.get(k, none)[0] - ref.get(k, none)[0], k) for k in {*ref, *head}]
        for title, side, rows in (("called more often per request in head", head, [c for c in changed if c[0] > 0.01]),
                                  ("called less often per request in head", ref, [c for c in changed if c[0] < -0.01])):
            out.append(f"  {title} (calls ref -> head; own us per request in {'head' if side is head else 'ref'}):")
            rows.sort(key=lambda row: -side[row[1]][1])
            for _, key in rows[:20]:
                calls = [s.get(key, none)[0] for s in (ref, head)]
                out.append(f"    {calls[0]:>5.1f} -> {calls[1]:>5.1f} {side[key][1] * 1e6:>7.2f} us  "
                           f"{key.rsplit(':', 1)[1]} ({side[key][2]})")
            if not rows:
                out.append("    none")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", default="58781e0", help="the 'before' commit (default 58781e0)")
    parser.add_argument("--head", default=None, help="a commit to compare instead of the checkout on disk")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--number", type=int, default=500, help="requests per batch (default 500)")
    parser.add_argument("--repeat", type=int, default=7, help="batches per case per round, the best kept (default 7)")
    parser.add_argument("--bound", type=float, default=5.0, help="allowed slow-down, percent (default 5)")
    parser.add_argument("--instructions", action="store_true", help="also count instructions under callgrind")
    parser.add_argument("--instr-requests", type=int, default=200, help="requests counted per case (default 200)")
    parser.add_argument("--profile", action="store_true", help="cProfile the cases over the bound")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of: " + ", ".join(CASES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    cases = [c for c in args.cases.split(",") if c]
    bound = 1 + args.bound / 100
    with tempfile.TemporaryDirectory(prefix="focus-compare-") as tmp:
        trees = {"ref": _archive(args.ref, Path(tmp) / "ref"),
                 "head": _archive(args.head, Path(tmp) / "head") if args.head else ROOT}
        print(f"ref  {args.ref} = {_git('rev-parse', '--short', args.ref)}  ({trees['ref']})")
        dirty = "" if args.head else (" + uncommitted changes" if _git("status", "--porcelain", "--", "focus_middleware", "integrations") else "")
        print(f"head {args.head or 'checkout'} = {_git('rev-parse', '--short', args.head or 'HEAD')}{dirty}  ({trees['head']})")
        spec = {"mode": "time", "cases": cases, "number": args.number, "repeat": args.repeat, "warm": 200}
        samples: dict[str, dict[str, list[float]]] = {"ref": {c: [] for c in cases}, "head": {c: [] for c in cases}}
        for index in range(args.rounds):
            order = ["ref", "head"] if index % 2 == 0 else ["head", "ref"]
            for side in order:
                result = _run_child(trees[side], spec)
                if index == 0:
                    print(f"  {side} imports {', '.join(result['files'])}")
                for name, seconds in result["seconds"].items():
                    samples[side][name].append(seconds * 1e6)
            print(f"  round {index + 1}/{args.rounds} ({'/'.join(order)}) done", file=sys.stderr)
        instr: dict[str, dict[str, float]] = {}
        if args.instructions:
            instr = {side: _instructions(tree, cases, args.instr_requests, Path(tmp) / f"cg-{side}")
                     for side, tree in trees.items()}

        print(f"\n{args.rounds} interleaved rounds; per round the best of {args.repeat} batches of {args.number} "
              f"requests; us per request as median (min) over rounds" + (
                  f"; instructions per request under callgrind ({args.instr_requests} requests)" if instr else ""))
        head_row = f"{'case':<38}| {'ref us':>15} | {'head us':>15} | {'ratio':>6} |"
        if instr:
            head_row += f" {'instr ref':>10} | {'instr head':>10} | {'ratio':>6} |"
        print(head_row + f" within {args.bound:g} %")
        over: list[str] = []
        for name in cases:
            ref, head = samples["ref"][name], samples["head"][name]
            ratio = statistics.median(head) / statistics.median(ref)
            row = (f"{LABELS[name]:<38}| {statistics.median(ref):>7.2f} ({min(ref):>6.2f}) | "
                   f"{statistics.median(head):>7.2f} ({min(head):>6.2f}) | {ratio:>6.3f} |")
            # Instructions decide when counted (deterministic); otherwise the median time.
            decisive = ratio
            if instr:
                iratio = instr["head"][name] / instr["ref"][name]
                row += f" {instr['ref'][name]:>10.0f} | {instr['head'][name]:>10.0f} | {iratio:>6.3f} |"
                decisive = iratio
            passed = decisive <= bound
            print(row + (" PASS" if passed else " FAIL"))
            if not passed:
                over.append(name)
        print(f"\nhot path within {args.bound:g} % of {args.ref}: {'no' if over else 'yes'} "
              f"(cases: {', '.join(over) if over else 'all ' + str(len(cases)) + ' within'}; judged on "
              f"{'instructions per request' if instr else 'median time'})")
        if args.profile and over:
            print(_profile(trees, over, args.number))
    return 0  # a report: the verdict is in the summary line, not the exit code


if __name__ == "__main__":
    sys.exit(main())
