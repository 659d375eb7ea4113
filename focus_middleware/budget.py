"""How many credentials this app may ask Focus about, and for whom.

A bearer that is not a locally verifiable JWT (a PAT, or any JWT without a configured
issuer) costs a call to Focus. Unbounded, a flood of random bearers would turn the app into
an amplifier against Focus; bounded by one process-wide bucket, one client's flood would
also turn away every real user who arrives with a new credential. So each client address
has its own small bucket, under a process-wide ceiling that protects Focus: a flood from one
address spends its own budget, never another's.

The address is the one the rest of the library trusts: the peer's, or, when the peer is a
configured trusted proxy, the nearest untrusted hop of ``X-Forwarded-For``. IPv6 addresses
are grouped by /64 (one host usually holds a whole /64). The table of buckets is bounded.
"""

from __future__ import annotations

import ipaddress
import threading

from cachetools import TTLCache

from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts

_TABLE_SIZE = 4096
_IDLE = 60.0
"""A bucket idle this long is full again anyway: it may be forgotten."""


def client_address(facts: RequestFacts, config: FocusConfig) -> str:
    """The client's address as this app can trust it ("" when unknown)."""
    peer = facts.client_addr or ""
    if peer not in config.trusted_proxies:
        return peer
    hops = [h.strip() for h in facts.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    # The right-most hop was added by our proxy; walk left past every proxy we trust.
    for hop in reversed(hops):
        if hop not in config.trusted_proxies:
            return hop
    return peer


def client_group(address: str) -> str:
    """The budget's key for an address: IPv4 as is, IPv6 by its /64."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at


class RemoteCheckBudget:
    """Token buckets: one per client group (``remote_checks_per_client``), and a ceiling for
    the process (``remote_checks_per_second``)."""

    def __init__(self, config: FocusConfig) -> None:
        self._clock = config.clock
        self._rate = config.remote_checks_per_second
        self._client_rate = config.remote_checks_per_client
        self._burst = max(self._rate, 1.0)
        # A client may spend two seconds' share at once: a page that fans out a few
        # requests with a new token is not refused.
        self._client_burst = max(2 * self._client_rate, 1.0)
        self._ceiling = _Bucket(self._burst, self._clock.monotonic())
        self._clients: TTLCache[str, _Bucket] = TTLCache(maxsize=_TABLE_SIZE, ttl=_IDLE, timer=self._clock.monotonic)
        self._lock = threading.Lock()

    @staticmethod
    def _take(bucket: _Bucket, rate: float, now: float, burst: float) -> bool:
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def allow(self, client: str) -> bool:
        """Spend one check for ``client`` (a :func:`client_group`), if both budgets allow."""
        with self._lock:
            now = self._clock.monotonic()
            bucket = self._clients.get(client)
            if bucket is None:
                bucket = _Bucket(self._client_burst, now)
            allowed = self._take(bucket, self._client_rate, now, self._client_burst)
            self._clients[client] = bucket  # re-inserted: idle time counts from now
            return allowed and self._take(self._ceiling, self._rate, now, self._burst)


__all__ = ["RemoteCheckBudget", "client_address", "client_group"]
