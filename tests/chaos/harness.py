"""Start a server of ``servers.py``, act as its clients, stop it as a deploy does, read the books.

A client's request is *received* when its whole answer arrived: status 200 and the body's
last line ``END``. The books must then show exactly one completed job per received answer
(matched by the ``ref`` each handler writes into its job's metadata), every other job
failed with its refund, none ``started``, and the emulator's ledger balanced.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from focus_middleware.testing import EmulatedUser, FocusEmulator
from tests.chaos.apps import PAYLOAD_SIZE
from tests.chaos.servers import OUTLIVED_GRACE, Server

ROOT = Path(__file__).resolve().parents[2]


def library_root() -> Path:
    """The tree the servers import the library from: this checkout, or ``CHAOS_LIBRARY``
    (another checkout, e.g. ``git archive <commit>`` unpacked, to compare a fix with what
    came before; this suite's apps are copied into it)."""
    other = os.environ.get("CHAOS_LIBRARY")
    if not other:
        return ROOT
    root = Path(other).resolve()
    shutil.copytree(Path(__file__).parent, root / "tests" / "chaos", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return root


def python_path(root: Path) -> str:
    """The library, its two integrations and the apps, ahead of the venv's editable installs
    (setuptools' editable finders come after ``sys.path`` in ``sys.meta_path``)."""
    parts = [root, root / "integrations" / "flask", root / "integrations" / "django"]
    return os.pathsep.join(filter(None, [*map(str, parts), os.environ.get("PYTHONPATH")]))
APP = "chaos"
EXIT_BOUND = 12.0  # seconds a server may take to exit after SIGTERM (its grace is 2 s)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Running:
    server: Server
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    exited_in: float | None = None  # seconds from SIGTERM to exit; None: had to be killed

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def sigterm(self, bound: float = EXIT_BOUND) -> None:
        """What a deploy does: SIGTERM, then wait for the exit (SIGKILL past ``bound``)."""
        if self.process.poll() is not None:
            return
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(bound)
            self.exited_in = time.monotonic() - began
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def serving(server: Server, emu: FocusEmulator, tmp: Path) -> Iterator[Running]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    root = library_root()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOCUS_", "DJANGO_", "GRANIAN_"))}
    env.update(FOCUS_API_URL=emu.url, FOCUS_ISSUER=emu.issuer, FOCUS_APP=APP, FOCUS_PUBLIC_ORIGIN=url,
               CHAOS_FILE=str(tmp / "payload.txt"), PYTHONUNBUFFERED="1", **dict(server.env),
               PYTHONPATH=python_path(root))
    log = tmp / f"{server.name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", *server.command(port)], cwd=root, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    running = Running(server, url, process, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{server.name} exited {process.returncode}:\n{running.log_tail()}")
            try:  # an HTTP answer, not only a bound port: gunicorn binds before its worker boots
                httpx.get(f"{url}/render?ref=probe", timeout=2)  # 401: no credential, no job
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{server.name} did not start:\n{running.log_tail()}") from None
                time.sleep(0.05)
        yield running
    finally:
        running.sigterm()


# -- clients ------------------------------------------------------------------------------------------


@dataclass
class Sent:
    """One client's request and what it got."""

    ref: str
    scenario: str  # ok, raise, left-before-answer, stream, left-mid-stream, file, in-flight...
    target: str
    received: bool = False
    status: int | None = None
    error: str | None = None


@dataclass
class Clients:
    """The requests of one test, each with a unique ``ref``."""

    url: str
    token: str
    sent: list[Sent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def new(self, scenario: str, path: str, **query: Any) -> Sent:
        with self._lock:
            ref = f"r{len(self.sent):03d}-{scenario}"
            params = "&".join(f"{k}={v}" for k, v in {"ref": ref, **query}.items())
            sent = Sent(ref, scenario, f"{path}?{params}")
            self.sent.append(sent)
        return sent

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}", "accept": "text/plain"}

    def get(self, sent: Sent, timeout: float = 15.0) -> Sent:
        """The whole answer, or the error that ended it (a timeout is a client leaving)."""
        try:
            with httpx.Client(timeout=timeout) as client:
                r = client.get(self.url + sent.target, headers={**self.headers(), "connection": "close"})
            sent.status = r.status_code
            if sent.target.startswith("/file"):
                sent.received = r.status_code == 200 and len(r.content) == PAYLOAD_SIZE and r.content.endswith(b"END\n")
            else:
                sent.received = r.status_code == 200 and r.text.endswith(f"{sent.ref} END\n")
        except httpx.HTTPError as exc:
            sent.error = type(exc).__name__
        return sent

    def leave_mid_stream(self, sent: Sent, after: bytes = b"chunk 1\n") -> Sent:
        """Read the stream's first chunks on a raw socket, then close it."""
        with socket.create_connection(self._address(), timeout=10) as sock:
            sock.sendall(self._request(sent.target))
            data = b""
            while after not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            sent.status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None
            sent.error = "left"
        return sent

    def leave_before_answer(self, sent: Sent, after: float) -> Sent:
        """Send the request, wait ``after`` seconds (the work is under way), close the socket:
        a client whose read timeout expired."""
        with socket.create_connection(self._address(), timeout=10) as sock:
            sock.sendall(self._request(sent.target))
            sock.settimeout(after)
            try:
                data = sock.recv(4096)
                sent.error = f"answered before leaving: {data[:60]!r}"
            except TimeoutError:
                sent.error = "left"
        return sent

    def _address(self) -> tuple[str, int]:
        host, port = self.url.removeprefix("http://").split(":")
        return host, int(port)

    def _request(self, target: str) -> bytes:
        host = self.url.removeprefix("http://")
        return (f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {self.token}\r\n"
                "Accept: text/plain\r\nConnection: close\r\n\r\n").encode()

    def run(self, calls: list[Callable[[], Sent]], workers: int = 4) -> None:
        with ThreadPoolExecutor(workers) as pool:
            for future in [pool.submit(call) for call in calls]:
                future.result()


# -- the books ------------------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def describe(job: dict[str, Any]) -> str:
    ref = (job.get("metadata") or {}).get("ref", "?")
    return f"{job['action']}:{job['status']}:{job.get('actual_cost')}:{ref}"


def books_problems(emu: FocusEmulator, user: EmulatedUser, clients: Clients, start: int,
                   cannot_tell: frozenset[str] = frozenset()) -> list[str]:
    """What is wrong with the books of ``user`` after ``clients`` ran: an empty list when
    every received answer was charged once, nothing else was, and nothing is ``started``.
    A leaver charged in a situation of ``cannot_tell`` (the server's row of the table) is
    allowed."""
    problems: list[str] = []
    jobs = emu.jobs(user)
    started = [describe(j) for j in jobs if j["status"] == "started"]
    if OUTLIVED_GRACE in cannot_tell:  # killed with the worker: left to Focus's release
        started = started[sum(1 for s in clients.sent if s.scenario == OUTLIVED_GRACE and not s.received):]
    if started:
        problems.append(f"{len(started)} of {len(jobs)} jobs left started (credits held 24 h): {started}")
    completed = {(j.get("metadata") or {}).get("ref"): j for j in jobs if j["status"] == "completed"}
    by_ref = {s.ref: s for s in clients.sent}
    for ref, job in completed.items():
        sent = by_ref.get(ref) if isinstance(ref, str) else None
        if sent is None:
            problems.append(f"a completed job nobody asked for: {describe(job)}")
        elif not sent.received and sent.scenario not in cannot_tell:
            problems.append(f"charged a client that did not receive its answer: {sent.scenario} {ref} "
                            f"(client: status={sent.status} error={sent.error})")
    for sent in clients.sent:
        if sent.received and sent.ref not in completed:
            problems.append(f"delivered but not charged: {sent.scenario} {sent.ref} (a failed job or none)")
    charged = sum(j["actual_cost"] or 0 for j in completed.values())
    held = sum(j["cost_estimate"] for j in jobs if j["status"] == "started")
    if user.credits != start - charged - held:
        problems.append(f"balance {user.credits} != {start} - {charged} charged - {held} held")
    try:
        emu.check_books()
    except AssertionError as exc:
        problems.append(str(exc))
    if problems:
        problems.append("jobs: " + ", ".join(describe(j) for j in reversed(jobs)))
    return problems


def settle_then_problems(emu: FocusEmulator, user: EmulatedUser, clients: Clients, start: int,
                         cannot_tell: frozenset[str] = frozenset(), timeout: float = 5.0) -> list[str]:
    """Give settlements that run after the answer a bounded time, then read the books."""
    wait_until(lambda: not emu.jobs(user, status="started"), timeout, "jobs settled")
    return books_problems(emu, user, clients, start, cannot_tell)
