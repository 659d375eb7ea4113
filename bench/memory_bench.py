"""Bytes per cached session JWT: the resolver's first-level cache, sized to hold them,
filled with 10,000 and 100,000 distinct verified tokens.

Every token goes through the resolver's public path (``Resolver.resolve``), so what is
counted is whatever that path keeps per token: the cache key, the entry, the claims, the
cache's own bookkeeping, and a share of the bounded caches beside it (parsed accounts).

Two measures. ``tracemalloc``: the traced growth after a full collection, divided by the
tokens; the tokens are minted before tracing starts, so their own text is not counted (a
server does not keep them either). Tracing triples the cost of a verification (≈2 ms a
token on a busy 2-core machine), so by default only 10,000 tokens are traced. Resident-set
growth (``VmRSS``) over one untraced fill, read at 10,000 and at 100,000: what the process
really holds, allocator slack included. ``python -m bench --trace-all-memory`` traces
100,000 too (minutes).

Minting 100,000 RS256 tokens with the emulator's 2048-bit key takes minutes (≈1.5 ms a
signature), so the tokens are signed by a 1024-bit key of this bench's, given to the
resolver as ``jwt_public_key``; their claims are the emulator's own (a session token it
minted, each copy with its own ``jti`` and ``sid``). The key size changes neither the
claims nor what is cached, only the signature, which is not kept.
"""

from __future__ import annotations

import base64
import gc
import json
import subprocess
import sys
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bench.env import BenchEnv, bench_env
from bench.goals import MAX_BYTES_PER_CACHED_JWT, MEMORY_TOKEN_COUNTS, mark
from focus_middleware.client import FocusClient
from focus_middleware.facts import RequestFacts
from focus_middleware.fast_path import HOT_ENTRIES, remember
from focus_middleware.models import Wallet
from focus_middleware.outcome import Authenticated
from focus_middleware.request_plan import account_plan, drive
from focus_middleware.resolver import Resolver

ROOT = Path(__file__).resolve().parents[1]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class _Minter:
    """Session tokens with the emulator's claims, signed by a key of the bench's own."""

    def __init__(self, template: dict[str, Any]) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        self._template = template
        self._header = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "bench"}, separators=(",", ":")).encode())
        self.public_pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")

    def mint(self, i: int) -> str:
        claims = {**self._template, "jti": f"bench{i:08d}", "sid": f"sess_bench{i:022d}"}
        signing_input = f"{self._header}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"


class _OneWallet(FocusClient):
    """Answers every wallet call with the one user's wallet: the emulator would refuse the
    bench's tokens (it does not know their key), and every token is that user's."""

    answer: Wallet

    def wallet(self, app: str | None = None, *, token: str | None = None) -> Wallet:
        return self.answer


def _facts(token: str) -> RequestFacts:
    return RequestFacts(method="GET", path="/", headers={"authorization": f"Bearer {token}"}, host="127.0.0.1:8000")


class _Filling:
    """One resolver whose cache holds ``capacity`` tokens, filled through ``resolve``; or,
    with ``remembered``, as an adapter fills it: the account plan, then the answer offered
    to the fast path's table (:func:`focus_middleware.fast_path.remember`)."""

    def __init__(self, env: BenchEnv, minter: _Minter, wallet: Wallet, capacity: int, *,
                 remembered: bool = False) -> None:
        self._remembered = remembered
        config = env.config.replace(jwt_public_key=minter.public_pem, token_cache_size=capacity)
        client = _OneWallet.from_config(config)
        client.answer = wallet
        self.resolver = Resolver(config, client=client)
        self._minter = minter
        self._next = 0
        self.fill(1)  # what is built once (keys, the wallet entry) is not a token's

    def fill(self, count: int, tokens: list[str] | None = None) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The RSA key is")  # PyJWT on a 1024-bit key: wanted here
            for i in range(count):
                token = tokens[i] if tokens is not None else self._minter.mint(self._next + i)
                facts = _facts(token)
                if self._remembered:
                    proceed = drive(account_plan(self.resolver.core, facts), self.resolver.perform)
                    remember(self.resolver.core, facts, proceed)
                    outcome = proceed.outcome
                else:
                    outcome = self.resolver.resolve(facts)
                if not isinstance(outcome, Authenticated):
                    raise RuntimeError("the resolver refused a bench token")
        self._next += count

    def mint(self, count: int) -> list[str]:
        return [self._minter.mint(self._next + i) for i in range(count)]


def _traced(env: BenchEnv, minter: _Minter, wallet: Wallet, count: int, *,
            remembered: bool = False) -> tuple[float, str]:
    """(bytes per token by tracemalloc, the line that grew most). Tracing triples the
    cost of a verification, so the tokens are minted first, untraced."""
    filling = _Filling(env, minter, wallet, count, remembered=remembered)
    tokens = filling.mint(count)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        filling.fill(count, tokens)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    if remembered and len(filling.resolver.core.hot) != min(count, HOT_ENTRIES):
        raise RuntimeError("the fast path's table did not take the answers: nothing of it was measured")
    filling.resolver.close()
    growth = after.compare_to(before, "lineno")
    top = max(growth, key=lambda stat: stat.size_diff)
    frame = top.traceback[0]
    where = "/".join(frame.filename.split("/")[-2:])
    return sum(stat.size_diff for stat in growth) / count, f"{where}:{frame.lineno} {top.size_diff / count:.0f} B"


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _resident(env: BenchEnv, minter: _Minter, wallet: Wallet, counts: tuple[int, ...]) -> dict[int, float]:
    """Bytes per token by resident-set growth, read at each count of one untraced fill:
    what the process really holds (allocator slack included), at a third of the time.
    Run in a fresh process (:class:`_ResidentChild`): memory freed earlier in a process
    is reused first, and would hide the growth."""
    filling = _Filling(env, minter, wallet, max(counts))
    gc.collect()
    before, done, per_token = _rss(), 0, {}
    for count in sorted(counts):
        filling.fill(count - done)
        done = count
        gc.collect()
        per_token[count] = (_rss() - before) / count
    filling.resolver.close()
    return per_token


class _ResidentChild:
    """:func:`_resident` in a fresh interpreter, started at once: it fills while this
    process traces (neither is timed, and the machine has two cores)."""

    def __init__(self, counts: tuple[int, ...]) -> None:
        self._process = subprocess.Popen([sys.executable, "-m", "bench.memory_bench", "--resident", *map(str, counts)],
                                         cwd=ROOT, stdout=subprocess.PIPE, text=True)

    def result(self) -> dict[int, float]:
        output, _ = self._process.communicate()
        if self._process.returncode != 0:
            raise RuntimeError("the resident-set child failed (its traceback is above)")
        return {int(count): per_token for count, per_token in json.loads(output.splitlines()[-1]).items()}


def _child(counts: tuple[int, ...]) -> None:
    with bench_env() as env:
        minter = _Minter(jwt.decode(env.token, options={"verify_signature": False}))
        with FocusClient.from_config(env.config) as client:
            wallet = client.wallet(env.config.app, token=env.token)
        print(json.dumps(_resident(env, minter, wallet, counts)))


def run(counts: tuple[int, ...] = MEMORY_TOKEN_COUNTS, traced: tuple[int, ...] = MEMORY_TOKEN_COUNTS[:1]) -> str:
    """``counts`` by resident-set growth, ``traced`` (a few, slow) by tracemalloc too."""
    out = ["memory per cached session JWT (bench/memory_bench.py): the resolver's cache sized to hold them, "
           "filled through resolve()",
           f"{'distinct tokens':<18}{'tracemalloc':>13}{'RSS growth':>12}   {'goal':<12}largest tracemalloc site"]
    child = _ResidentChild(counts) if counts else None
    with bench_env() as env:
        minter = _Minter(jwt.decode(env.token, options={"verify_signature": False}))
        with FocusClient.from_config(env.config) as client:
            wallet = client.wallet(env.config.app, token=env.token)
        exact = {count: _traced(env, minter, wallet, count) for count in traced}
        adapter = {count: _traced(env, minter, wallet, count, remembered=True) for count in traced}
    resident = child.result() if child is not None else {}
    for count in sorted(set(counts) | set(traced)):
        judged = exact[count][0] if count in exact else resident[count]
        goal = f"≤ {MAX_BYTES_PER_CACHED_JWT} B {mark(judged <= MAX_BYTES_PER_CACHED_JWT)}"
        traced_text = f"{exact[count][0]:.0f} B" if count in exact else "—"
        resident_text = f"{resident[count]:.0f} B" if count in resident else "—"
        out.append(f"{count:<18,}{traced_text:>13}{resident_text:>12}   {goal:<12}{exact[count][1] if count in exact else ''}")
    out.append("  the goal is judged on tracemalloc where measured (the live objects), else on RSS growth")
    for count, (per_token, site) in adapter.items():
        out.append(f"  as an adapter fills it, the fast path's table included (at most {HOT_ENTRIES:,} answers): "
                   f"{count:,} tokens, {per_token:.0f} B per token by tracemalloc (largest: {site})")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--resident":
        _child(tuple(int(count) for count in sys.argv[2:]))
    else:
        print(run())
