"""Under a real server: uvicorn (one worker) serving the bare Starlette app, the same
app behind FocusMiddleware and behind the required-surface floor (``bench/floors.py``: the
least any middleware adds that attaches the account and the ``Vary``/``Cache-Control``
headers), loaded by ``wrk`` with one cached bearer JWT.

The server is pinned to core 0 and wrk to core 1 (``taskset``), so the load generator
does not take the server's CPU. The servers run for the whole bench; the runs alternate
(bare, Focus, floor, then the reverse order, ...) and each row gives the median over its
runs (five each: on a shared VM one run of a server differs from the next by up to 20 %)
of requests per second, p50 and p99 latency, and the server's CPU time per request
(``utime + stime`` from ``/proc/<pid>/stat`` before and after a run, divided by the
requests wrk completed). The token is warmed (claims and wallet cached) right before each
run, within the wallet's cache lifetime."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.env import ORIGIN, bench_env
from bench.goals import MIN_RPS_SHARE, mark

ROOT = Path(__file__).resolve().parents[1]
SERVER_CORE = "0"
WRK_CORE = "1"
CONNECTIONS = 32
_TICK = os.sysconf("SC_CLK_TCK")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


@dataclass(frozen=True)
class WrkRun:
    requests_per_second: float
    p50: float
    p99: float
    cpu_per_request: float


def _http_parser() -> str:
    """What uvicorn parses HTTP with here (``--http auto``): httptools when installed (as
    ``uvicorn[standard]`` installs it), else h11, in pure Python, whose checks of every
    response header make each header Focus adds cost more than it does in process."""
    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15)


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def _parse(output: str) -> tuple[int, float, float, float]:
    """(requests, requests/s, p50, p99) from ``wrk --latency``; non-2xx answers are an error."""
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    # The distribution's own lines: "+/- Stdev" columns above also print percentages (71.99%).
    p50 = _seconds(re.search(r"^\s*50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _seconds(re.search(r"^\s*99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    return requests, rate, p50, p99


class _Server:
    def __init__(self, factory: str, environ: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, sys.executable, "-m", "uvicorn", "--factory", f"bench.wrk_app:{factory}",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=environ, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.url, timeout=1)
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"uvicorn ({factory}) did not start") from None
                time.sleep(0.1)

    def warm(self, headers: dict[str, str]) -> None:
        for _ in range(3):
            if httpx.get(self.url, headers=headers, timeout=5).status_code != 200:
                raise RuntimeError(f"{self.url} did not answer 200 with the bench token")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wrk(server: _Server, header: str, seconds: float) -> WrkRun:
    before = _cpu_seconds(server.process.pid)
    output = subprocess.run(
        ["taskset", "-c", WRK_CORE, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency", "-H", header,
         server.url], check=True, capture_output=True, text=True).stdout
    cpu = _cpu_seconds(server.process.pid) - before
    requests, rate, p50, p99 = _parse(output)
    return WrkRun(rate, p50, p99, cpu / requests)


def _median(runs: list[WrkRun]) -> WrkRun:
    return WrkRun(*(statistics.median(getattr(run, name) for run in runs)
                    for name in ("requests_per_second", "p50", "p99", "cpu_per_request")))


def _row(label: str, run: WrkRun) -> str:
    return (f"{label:<30}{run.requests_per_second:>10.0f}{run.p50 * 1e3:>10.2f}{run.p99 * 1e3:>10.2f}"
            f"{run.cpu_per_request * 1e6:>12.0f}")


def run(*, rounds: int = 5, seconds: float = 4.0) -> str:
    title = (f"under uvicorn (bench/wrk_bench.py), HTTP by {_http_parser()}: 1 worker on core {SERVER_CORE}, "
             f"wrk -t1 -c{CONNECTIONS} on core {WRK_CORE}, {rounds} alternating runs of {seconds:g} s each, medians; "
             "one cached bearer JWT")
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if missing:
        return f"{title}\n  skipped: {' and '.join(missing)} not installed (apt-get install wrk util-linux)"
    if (os.cpu_count() or 1) < 2:
        return f"{title}\n  skipped: needs two cores (server and wrk each on its own)"
    with bench_env() as env:
        environ = {**os.environ, "FOCUS_API_URL": env.config.api_url, "FOCUS_ISSUER": env.config.issuer or "",
                   "FOCUS_APP": "bench", "FOCUS_PUBLIC_ORIGIN": ORIGIN}
        headers = {"authorization": f"Bearer {env.token}"}
        header = f"authorization: Bearer {env.token}"
        servers = {name: _Server(name, environ) for name in ("bare", "focus", "floor")}
        try:
            runs: dict[str, list[WrkRun]] = {name: [] for name in servers}
            for name, server in servers.items():  # warm-up: caches, and the server's own first requests
                server.warm(headers)
                _wrk(server, header, 1)
            for r in range(rounds):  # bare, Focus, floor, floor, Focus, bare, ...: none always goes first
                for name, server in (list(servers.items()) if r % 2 == 0 else list(servers.items())[::-1]):
                    server.warm(headers)
                    runs[name].append(_wrk(server, header, seconds))
        finally:
            for server in servers.values():
                server.stop()
    bare, focus, floor = _median(runs["bare"]), _median(runs["focus"]), _median(runs["floor"])
    share = focus.requests_per_second / bare.requests_per_second
    floor_share = floor.requests_per_second / bare.requests_per_second
    focus_rounds, floor_rounds = _round_shares(runs["focus"], runs["bare"]), _round_shares(runs["floor"], runs["bare"])
    return "\n".join([
        title,
        f"{'app':<30}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'CPU µs/req':>12}",
        _row("bare Starlette", bare),
        _row("FocusMiddleware, cached JWT", focus),
        _row("floor: required surface", floor),
        f"  Focus keeps {share:.1%} of the bare app's requests/s (goal ≥ {MIN_RPS_SHARE:.0%}) {mark(share >= MIN_RPS_SHARE)}; "
        f"it adds {(focus.cpu_per_request - bare.cpu_per_request) * 1e6:+.0f} µs of server CPU per request",
        f"  the floor keeps {floor_share:.1%} and adds {(floor.cpu_per_request - bare.cpu_per_request) * 1e6:+.0f} µs",
        f"  each round's share (that round's run over the bare app's): Focus {_span(focus_rounds)}, "
        f"the floor {_span(floor_rounds)}; python -m bench.server_instructions counts what repeats",
    ])


def _round_shares(runs: list[WrkRun], bare: list[WrkRun]) -> list[float]:
    """Each round's requests/s over the bare app's in the same round: how far one run moves
    from the next shows here, next to the medians the goal is judged on."""
    return [run.requests_per_second / base.requests_per_second for run, base in zip(runs, bare, strict=True)]


def _span(shares: list[float]) -> str:
    return f"{min(shares):.0%}–{max(shares):.0%}"


if __name__ == "__main__":
    print(run())
