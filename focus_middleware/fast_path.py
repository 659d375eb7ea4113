"""The fast path: a request whose every answer is cached gets its :class:`Proceed` from one
dict lookup, without building the facts or starting the plan (issue 22).

Most requests of a signed-in app are the same few credentials again: the token verified
minutes ago, the wallet read seconds ago. The full plan (:mod:`focus_middleware.request_plan`)
re-derives the same answer for each from the first-level cache; this module remembers
the answer itself, found by the raw credential header, and hands it back for as long as
everything it was derived from still holds. Any doubt sends the request to
the full plan, which answers and (through :func:`remember`) fills this table again.

A request takes the fast path only when all of these hold; each says why reusing the
earlier answer is the same decision the full plan would make:

- **Events as the plan emits them**: a subscriber hears of an answer from the table
  what it hears of the plan's fully cached answer (the token's and the wallet's
  first-level hits, then the decision), in that order.
- **Not ours**: the path holds no ``/_focus`` and the query neither ``focus_state`` nor
  ``focus_billed`` (the middleware's endpoints, the return trip, back-from-billing are
  answered by the plan; tested on the raw path, a superset of :func:`~focus_middleware.
  request_plan.up_front`).
- **One credential header, read as the plan reads it**: an ``Authorization: Bearer``
  (which alone decides), or no ``Authorization`` at all and a ``Cookie`` header. The
  answer records which header it came from, so a token cached as a bearer is never reused
  for a cookie (``azp`` is judged by source), and the whole header: an answer is given
  only to the very same header, byte for byte (the same token, spelled the same; for a
  cookie, any other cookie in the header could change the plan's reading). The adapters
  pass the header as their server gave it: ASGI's bytes, or WSGI's and Django's latin-1
  ``str`` (PEP 3333), the same bytes.
- **A safe method for a cookie** (GET, HEAD, OPTIONS, TRACE): a cookie-authenticated
  state change is checked for its origin by the plan every time.
- **What the answer was derived from is still there**: the first-level entries of the
  verified token and of the wallet are the very ones the answer was built from (a
  :class:`~focus_middleware.cache.CacheEntry` stops being ``live`` once deleted,
  replaced, evicted or cleared: ``forget_wallet``, a purchase, an invalidation from
  another process, a reset all end the reuse at once).
- **Nothing is due**: the wall clock is before the token's ``exp`` less
  ``min_token_life`` (so no expiry, leeway, refresh, bounce or too-short-lived decision
  can differ), before the wallet's freshness ends (``wallet_ttl``) and before either
  first-level entry expires (with a shared level, the first level keeps a copy for
  ``l1_ttl``: the plan would read the shared level again then).

Only locally verified session tokens from a bearer header or the app's cookie, with a
fresh wallet, are remembered (:func:`remember`); PATs, Clerk's ``__session`` and
remotely checked tokens always take the plan. The table is bounded (first in, first
out); it holds the answers, whose credential holds its token, so it is kept small.

**Keys.** A token is never a key (nor any header holding one): the table is keyed by
Python's ``hash`` of the header, SipHash with a key drawn at random per process, an
integer that tells nothing of the token. A hash only finds the candidate: the answer is
given only when the header is the one it came from (above), so two headers with one hash
never share an answer, whatever the hash's quality (``PYTHONHASHSEED`` set included; the
comparison is reached only by a header that already hashes as a remembered one). It costs
a fifth of a SHA-256 of the header, the largest step of the path when it was keyed so
(``python -m bench --only profile``).

A bearer header is keyed by the hash of its last :data:`BEARER_KEY_TAIL` bytes only,
which saves hashing the rest of the token (about 0.15 µs for a Clerk JWT): a JWT ends in
its signature, so no two tokens end alike unless one is forged from the other. A forged
token ending as a remembered one finds that answer's slot, fails the comparison and goes
to the plan, which refuses it and so never remembers it: the slot stays its owner's, and
nothing is shared. A ``Cookie`` header is keyed whole: it may end in a cookie every
user has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AnyStr

from focus_middleware import events
from focus_middleware.cache import CacheEntry
from focus_middleware.facts import RequestFacts
from focus_middleware.outcome import Authenticated
from focus_middleware.request_plan import PROCEED_ANONYMOUS, Proceed
from focus_middleware.sessions import FOCUS_PREFIX
from focus_middleware.urls import BILLED_PARAM, STATE_PARAM

if TYPE_CHECKING:
    from focus_middleware.resolver import ResolverCore

HOT_ENTRIES = 1024
"""How many answers the table keeps: as many as the resolver keeps parsed accounts, whose
answers are the only ones it can remember. Each holds its credential, so its token, and
the header it came from: for a bearer, the token again, as the server's bytes (the two
are most of the ~2.1 kB an answer costs: ``python -m bench --only memory``). Keeping the
header costs ~0.65 kB an answer, ~0.65 MB for a full table, and saves slicing and
decoding it on every request (~0.15 µs for a Clerk JWT)."""

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_STATE = STATE_PARAM.encode()
_BILLED = BILLED_PARAM.encode()
# A query's token= is a credential (the plan ignores it or refuses it): never anonymous here.
_TOKEN = b"token="


@dataclass(slots=True)
class _Hot:
    proceed: Proceed
    until: float
    """Wall-clock time at which something may be due (expiry, min_token_life, wallet age)."""
    token_entry: CacheEntry
    wallet_entry: CacheEntry
    bearer: bool
    """Whether the answer came from an ``Authorization`` header (else from a ``Cookie``)."""
    header: bytes | str
    """The whole header it came from, in the type the adapter's server hands over (ASGI's
    bytes, WSGI's str: see :func:`_same_header`), so that telling it apart from another
    is one comparison of two strings, nothing decoded or sliced."""
    events: tuple[events.Event, ...]
    """What the plan emitted for it (the first-level hits, the decision), emitted again."""


class HotAnswers:
    """The table of remembered answers of one :class:`~focus_middleware.resolver.ResolverCore`,
    found by the raw credential header: ASGI's bytes, or WSGI's and Django's latin-1
    ``str``, hashed as the same bytes."""

    __slots__ = ("_answers", "_maxsize")

    def __init__(self, maxsize: int = HOT_ENTRIES) -> None:
        self._answers: dict[int, _Hot] = {}
        self._maxsize = maxsize

    def get(self, header: bytes | str, bearer: bool, now: float) -> _Hot | None:
        """The answer remembered for exactly this header (an ``Authorization`` header if
        ``bearer``, else a ``Cookie`` header), while still valid at ``now``."""
        # ASGI's bytes, and WSGI's ASCII str, hashed without a call.
        if type(header) is bytes or _ASCII_HASHES_AS_BYTES and header.isascii():
            key = hash(header[_BEARER_TAIL] if bearer else header)
        else:
            found = table_key(header, bearer)
            if found is None:
                return None
            key = found
        hot = self._answers.get(key)
        if hot is None:
            return None
        # Types first: comparing bytes with str warns under ``python -b`` (and raises under -bb).
        if type(header) is not type(hot.header):
            if not _same_header(hot, header):
                return None
        elif header != hot.header:
            return None  # another header with the same hash keeps its answer
        if now < hot.until and hot.token_entry.live and hot.wallet_entry.live:
            return hot
        self._answers.pop(key, None)
        return None

    def put(self, header: bytes | str, hot: _Hot) -> None:
        key = table_key(header, hot.bearer)
        if key is None:
            return
        answers = self._answers
        if key not in answers and len(answers) >= self._maxsize:
            try:
                del answers[next(iter(answers))]
            except (StopIteration, KeyError, RuntimeError):  # another thread got there first
                pass
        answers[key] = hot

    def __len__(self) -> int:
        return len(self._answers)


def _same_header(hot: _Hot, header: bytes | str) -> bool:
    """Whether ``header``, of the other type than the one ``hot`` keeps, is the same
    latin-1 text; if so ``hot`` keeps it in this type from now on. The plan remembers
    the ``str`` its facts hold; an ASGI server hands over bytes: its first reuse converts
    the entry once, not every request."""
    if isinstance(header, bytes):
        same = header.decode("latin-1") == hot.header
    else:
        try:
            same = header.encode("latin-1") == hot.header
        except UnicodeEncodeError:
            return False
    if same:
        hot.header = header
    return same


BEARER_KEY_TAIL = 64
"""How many of a bearer header's last bytes its key is the hash of: in a Clerk JWT, all of
them are its RS256 signature (342 characters; an ES256 one would have 86)."""
_BEARER_TAIL = slice(-BEARER_KEY_TAIL, None)  # made once: a slice literal builds one per request


def table_key(header: bytes | str, bearer: bool) -> int | None:
    """The table's key for a header: the hash of its bytes (a bearer's last
    :data:`BEARER_KEY_TAIL`). None for a ``str`` that is not latin-1, which no server hands
    over: such a request takes the plan."""
    if isinstance(header, str):
        if _ASCII_HASHES_AS_BYTES and header.isascii():  # isascii() reads a flag: no pass over it
            return hash(header[_BEARER_TAIL] if bearer else header)
        try:
            header = header.encode("latin-1")
        except UnicodeEncodeError:
            return None
    return hash(header[_BEARER_TAIL] if bearer else header)


# CPython hashes an ASCII ``str`` as the same bytes, so WSGI's headers (nearly always ASCII:
# a token is) need no encoding to find the answers ASGI's bytes find; checked, not assumed.
_ASCII_HASHES_AS_BYTES = hash("Bearer focus") == hash(b"Bearer focus")


def cached_proceed(core: ResolverCore, method: str, path: str, query: str,
                   authorization: str | None, cookie: str | None) -> Proceed | None:
    """The remembered answer for a request, from its raw method, path (``root_path``
    included), query and credential headers as WSGI and Django hand them over (latin-1
    ``str``, PEP 3333; an ASGI scope is read by :func:`scope_proceed`); None: run the full
    plan (see the module docstring for each condition). A request with no credential at
    all is anonymous here too, as :func:`~focus_middleware.request_plan.quick_proceed` says."""
    if FOCUS_PREFIX in path or query and (STATE_PARAM in query or BILLED_PARAM in query or "token=" in query):
        return None
    return _remembered(core, method, authorization, cookie, "Bearer ", "bearer ")


def _remembered(core: ResolverCore, method: str, authorization: AnyStr | None, cookie: AnyStr | None,
                spelled: AnyStr, lowered: AnyStr) -> Proceed | None:
    """The answer remembered for the request's credential header, once its path and query
    passed: :func:`cached_proceed`'s and :func:`scope_proceed`'s common end, in either
    type (``spelled`` and ``lowered``: how a bearer's header begins, in that type; the
    scheme is case-insensitive, RFC 9110 §11.1)."""
    if authorization is not None:
        if not (authorization.startswith(spelled) or authorization[:7].lower() == lowered):
            return None  # another scheme, beside a cookie or not: the plan reads it
        hot = core.hot.get(authorization, True, core.config.clock.time())
        if hot is None or not hot.bearer:
            return None
    elif cookie is not None:
        if method not in _SAFE_METHODS:
            return None
        hot = core.hot.get(cookie, False, core.config.clock.time())
        if hot is None or hot.bearer:
            return None
    else:
        return PROCEED_ANONYMOUS
    if events.active:
        for event in hot.events:
            events.emit(event)
    return hot.proceed


def scope_proceed(core: ResolverCore, scope: Mapping[str, Any]) -> Proceed | None:
    """:func:`cached_proceed` for an ASGI HTTP scope, read as it is: the credential headers
    found in one pass over the raw list, the path and query tested as bytes, then the same
    decision (:func:`_remembered`); no adapter scan, no str-or-bytes tests. A repeated
    credential header, or a header name not in lower case (the ASGI spec: names "should be
    lowercased, but it is not required"; the plan, which lower-cases them, could then read
    a credential this pass would miss), leaves the request to the plan."""
    authorization: bytes | None = None
    cookie: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is not None:
                return None
            authorization = value
        elif name == b"cookie":
            if cookie is not None:
                return None
            cookie = value
        elif not name.islower():
            return None
    query: bytes = scope["query_string"]
    if FOCUS_PREFIX in scope["path"] or query and (_STATE in query or _BILLED in query or _TOKEN in query):
        return None
    return _remembered(core, scope["method"], authorization, cookie, b"Bearer ", b"bearer ")


def remember(core: ResolverCore, facts: RequestFacts, proceed: Proceed) -> None:
    """After the full plan answered ``facts`` with ``proceed``: keep the answer for the
    fast path if it may be reused (see the module docstring), tied to the first-level
    entries it came from."""
    outcome = proceed.outcome
    if proceed.reason != "authenticated" or not isinstance(outcome, Authenticated):
        return
    credential, account = outcome.credential, outcome.account
    if credential.kind != "session" or account.stale or credential.expires_at is None:
        return
    authorization = facts.headers.get("authorization")
    bearer = credential.source == "bearer"
    if not (bearer or credential.source == "app_cookie" and authorization is None):
        return
    if not bearer and facts.method not in _SAFE_METHODS:
        return
    header = authorization if bearer else facts.headers.get("cookie")
    if header is None:
        return
    found = core.answer_sources(outcome)
    if found is None:
        return
    token_entry, wallet_entry, fresh_until = found
    clock = core.config.clock
    now = clock.time()
    # An entry past its own expiry is gone, even before the cache meets it again (with a
    # shared level, the first level keeps a wallet for l1_ttl only).
    kept_until = now + min(token_entry.expires, wallet_entry.expires) - clock.monotonic()
    until = min(credential.expires_at - core.config.min_token_life, fresh_until, kept_until)
    if now < until:
        core.hot.put(header, _Hot(proceed, until, token_entry, wallet_entry, bearer, header,
                                  _emitted(credential.source)))


def _emitted(source: str) -> tuple[events.Event, ...]:
    """The events of a fully cached answer from ``source``: the same few for every answer,
    so they are built once, not kept per answer."""
    found = _EMITTED.get(source)
    if found is None:
        found = _EMITTED[source] = (events.CacheLookup("jwt", "l1", True), events.CacheLookup("wallet", "l1", True),
                                    events.Decision("authenticated", None, source, "session"))
    return found


_EMITTED: dict[str, tuple[events.Event, ...]] = {}


__all__ = ["BEARER_KEY_TAIL", "HOT_ENTRIES", "HotAnswers", "cached_proceed", "remember", "scope_proceed", "table_key"]
