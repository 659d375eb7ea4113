"""What the Focus service tells us, as small immutable values.

Every model is a frozen, slotted dataclass: they are shared between threads, cached, and
handed to application code, so nothing may change under anyone's feet. Mappings inside
them (claims, job metadata) are read-only views over private copies.

Parsing follows the contract's tolerance rule (``focus-api.md``): the real service may
differ, so unknown fields are ignored and missing optional fields become None. A body that
is well-formed JSON but lacks what a model cannot do without (an account id, a numeric
balance) raises :class:`~focus_middleware.errors.PayloadError` naming the field — never a
``KeyError`` or ``TypeError`` from deep inside.

Secrets (session tokens, PATs, device codes) are excluded from every repr.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar, Literal, TypeAlias, get_args

from focus_middleware.errors import PayloadError

CredentialKind: TypeAlias = Literal["session", "pat"]
DevicePollStatus: TypeAlias = Literal[
    "pending", "approved", "slow_down", "expired_token", "access_denied", "invalid_grant"
]
JOB_STARTED = "started"
JOB_COMPLETED = "completed"
JOB_FAILED = "failed"

_EMPTY: Mapping[str, Any] = MappingProxyType({})


# -- tolerant field readers -----------------------------------------------------------------


def _obj(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise PayloadError(f"{where} must be a JSON object, got {type(data).__name__}")
    return data


def _req_str(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # an id sent as a number is still an id
    raise PayloadError(f"{where}.{key} must be a non-empty string")


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _req_int(data: Mapping[str, Any], key: str, where: str) -> int:
    value = _as_int(data.get(key))
    if value is None:
        raise PayloadError(f"{where}.{key} must be a whole number")
    return value


_PERSON_MAX = 200
"""A name or email longer than this is not shown: it is not a person's, and a page
must not grow by whatever a token or a body carries."""


def _person_str(data: Mapping[str, Any], key: str) -> str | None:
    """A name or an email to show, or None: a non-blank string of printable characters."""
    value = data.get(key)
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    if not value or len(value) > _PERSON_MAX or not value.isprintable():
        return None
    return value


def _first_claim(claims: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = _person_str(claims, name)
        if value is not None:
            return value
    return None


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    return _as_int(data.get(key))


def _opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def _opt_time(data: Mapping[str, Any], key: str) -> datetime | None:
    """ISO 8601 timestamps; anything unparseable is treated as absent, not as an error."""
    value = data.get(key)
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _time_json(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def freeze(value: Any) -> Any:
    """A deep, read-only copy of a JSON value: objects become mapping proxies, arrays tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of :func:`freeze`: plain dicts and lists, ready for ``json.dumps``."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def _frozen_mapping(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        frozen: Mapping[str, Any] = freeze(value)
        return frozen
    return _EMPTY


# -- wallet -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppInfo:
    """An app the account has used, and whether its starter credits were granted."""

    slug: str
    starter_credits: int | None = None
    granted: bool | None = None
    granted_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Any, where: str = "app") -> AppInfo:
        obj = _obj(data, where)
        return cls(
            slug=_req_str(obj, "slug", where),
            starter_credits=_opt_int(obj, "starter_credits"),
            granted=_opt_bool(obj, "granted"),
            granted_at=_opt_time(obj, "granted_at"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "starter_credits": self.starter_credits,
            "granted": self.granted,
            "granted_at": _time_json(self.granted_at),
        }


@dataclass(frozen=True, slots=True)
class AppGrant:
    """The app named in ``GET /api/wallet?app=``: its starter credits, granted once."""

    slug: str
    starter_credits: int | None = None
    granted: bool | None = None

    @classmethod
    def from_json(cls, data: Any, where: str = "app_grant") -> AppGrant:
        obj = _obj(data, where)
        return cls(
            slug=_req_str(obj, "slug", where),
            starter_credits=_opt_int(obj, "starter_credits"),
            granted=_opt_bool(obj, "granted"),
        )

    def to_json(self) -> dict[str, Any]:
        return {"slug": self.slug, "starter_credits": self.starter_credits, "granted": self.granted}


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """The ``account`` object of a wallet. ``credits`` is the spendable balance (open
    reservations already deducted) and may be negative after an overage. ``name`` and
    ``email`` are read when the service sends them (assumed: the contract does not promise
    them; the emulator sends both), so a page can greet a person instead of an id."""

    id: str
    clerk_id: str
    credits: int
    plan: str | None = None
    name: str | None = None
    email: str | None = None

    @classmethod
    def from_json(cls, data: Any, where: str = "account") -> AccountInfo:
        obj = _obj(data, where)
        return cls(
            id=_req_str(obj, "id", where),
            clerk_id=_req_str(obj, "clerk_id", where),
            credits=_req_int(obj, "credits", where),
            plan=_opt_str(obj, "plan"),
            name=_person_str(obj, "name"),
            email=_person_str(obj, "email"),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "clerk_id": self.clerk_id, "plan": self.plan, "credits": self.credits}
        for key in ("name", "email"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True, slots=True)
class Wallet:
    """The answer of ``GET /api/wallet[?app=]``.

    :meth:`to_json` writes the contract's own shape, so a cached wallet (any cache backend
    stores JSON) reads back through :meth:`from_json` exactly like a fresh one.
    """

    account: AccountInfo
    apps: tuple[AppInfo, ...] = ()
    app_grant: AppGrant | None = None

    @classmethod
    def from_json(cls, data: Any) -> Wallet:
        obj = _obj(data, "wallet")
        account = AccountInfo.from_json(obj.get("account"))
        raw_apps = obj.get("apps")
        apps: tuple[AppInfo, ...] = ()
        if isinstance(raw_apps, list):
            # One odd entry must not cost the user their wallet; skip what cannot be read.
            parsed = []
            for i, item in enumerate(raw_apps):
                try:
                    parsed.append(AppInfo.from_json(item, f"apps[{i}]"))
                except PayloadError:
                    continue
            apps = tuple(parsed)
        grant = None
        if obj.get("app_grant") is not None:
            try:
                grant = AppGrant.from_json(obj["app_grant"])
            except PayloadError:
                grant = None
        return cls(account=account, apps=apps, app_grant=grant)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"account": self.account.to_json(), "apps": [a.to_json() for a in self.apps]}
        if self.app_grant is not None:
            out["app_grant"] = self.app_grant.to_json()
        return out

    @property
    def credits(self) -> int:
        return self.account.credits

    @property
    def clerk_id(self) -> str:
        return self.account.clerk_id

    def with_credits(self, credits: int) -> Wallet:
        """The same wallet with a new balance (after a job reported the remaining credits)."""
        return dataclasses.replace(self, account=dataclasses.replace(self.account, credits=credits))


# -- the account attached to a request -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Organization:
    """The organisation a session token is active in (Clerk's organisation claims), in
    Clerk's v1 terms whatever the token's version: ``role`` like ``org:admin``,
    ``permissions`` like ``org:reports:read``.

    v1 tokens carry ``org_id``, ``org_slug``, ``org_role``, ``org_permissions``. v2 tokens
    (``v: 2``) carry ``o: {id, slg, rol, per, fpm}``: ``rol`` without its ``org:`` prefix, and
    permissions packed as the names in ``per`` and, per organisation feature listed in
    ``fea`` (``o:<feature>``), a decimal bitmask in ``fpm`` over those names, lowest bit
    first. Decoded as Clerk's SDK does (clerk/javascript
    ``packages/shared/src/jwtPayloadParser.ts``); https://clerk.com/docs/guides/sessions/session-tokens.
    """

    id: str
    slug: str | None = None
    role: str | None = None
    permissions: tuple[str, ...] = ()

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Organization | None:
        if claims.get("v") == 2:
            o = claims.get("o")
            if not isinstance(o, Mapping) or not isinstance(o.get("id"), str) or not o["id"]:
                return None
            rol = _opt_str(o, "rol")
            return cls(o["id"], _opt_str(o, "slg"), f"org:{rol}" if rol else None, _v2_permissions(claims, o))
        org_id = claims.get("org_id")
        if not isinstance(org_id, str) or not org_id:
            return None
        raw = claims.get("org_permissions")
        perms = tuple(p for p in raw if isinstance(p, str)) if isinstance(raw, (list, tuple)) else ()
        return cls(org_id, _opt_str(claims, "org_slug"), _opt_str(claims, "org_role"), perms)


def _v2_permissions(claims: Mapping[str, Any], o: Mapping[str, Any]) -> tuple[str, ...]:
    per, fpm, fea = o.get("per"), o.get("fpm"), claims.get("fea")
    if not isinstance(per, str) or not isinstance(fpm, str) or not per or not fpm:
        return ()
    names = [p.strip() for p in per.split(",")]
    features = [f.strip()[2:] for f in fea.split(",") if f.strip().startswith("o:")] if isinstance(fea, str) else []
    out: list[str] = []
    for feature, mask in zip(features, fpm.split(","), strict=False):
        mask = mask.strip()
        if not mask.isdigit():
            continue
        bits = int(mask)
        out.extend(f"org:{feature}:{name}" for i, name in enumerate(names) if bits >> i & 1)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class FocusAccount:
    """The Focus account a request belongs to, as every adapter exposes it.

    ``credential_kind`` says how the request proved it (a Clerk session JWT or a PAT);
    ``claims`` are the verified JWT claims (None for PATs and remotely checked tokens), a
    read-only mapping. ``stale`` is True when the wallet part comes from the stale-if-error
    window: fine to show, never to approve a spend with. ``is_authenticated`` lets it stand
    where frameworks expect a user object.
    """

    is_authenticated: ClassVar[bool] = True

    id: str
    clerk_id: str
    credits: int
    credential_kind: CredentialKind
    plan: str | None = None
    apps: tuple[AppInfo, ...] = ()
    app_grant: AppGrant | None = None
    claims: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)
    stale: bool = False
    name: str | None = None
    email: str | None = None

    def __post_init__(self) -> None:
        if self.claims is not None and not isinstance(self.claims, MappingProxyType):
            object.__setattr__(self, "claims", freeze(self.claims))

    @classmethod
    def from_wallet(
        cls,
        wallet: Wallet,
        *,
        credential_kind: CredentialKind,
        claims: Mapping[str, Any] | None = None,
        stale: bool = False,
        name_claims: tuple[str, ...] = ("name", "fullName", "full_name"),
        email_claims: tuple[str, ...] = ("email", "primaryEmail", "primary_email"),
    ) -> FocusAccount:
        """The account of ``wallet``; its ``name``/``email`` from the first of
        ``name_claims``/``email_claims`` the verified token carries (Clerk's default claims
        carry none: a custom session token template adds them), else from the wallet."""
        a = wallet.account
        person = claims if claims is not None else _EMPTY
        return cls(
            id=a.id,
            clerk_id=a.clerk_id,
            credits=a.credits,
            plan=a.plan,
            apps=wallet.apps,
            app_grant=wallet.app_grant,
            credential_kind=credential_kind,
            claims=claims,
            stale=stale,
            name=_first_claim(person, name_claims) or a.name,
            email=_first_claim(person, email_claims) or a.email,
        )

    @property
    def wallet(self) -> Wallet:
        return Wallet(AccountInfo(self.id, self.clerk_id, self.credits, self.plan, self.name, self.email),
                      self.apps, self.app_grant)

    @property
    def identity(self) -> str:
        """A stable user id (Clerk's), as Starlette's ``BaseUser.identity`` expects."""
        return self.clerk_id

    @property
    def display_name(self) -> str:
        """What a page calls this person: their name, else their email, else (when Focus
        told neither) the Clerk id, which at least stays the same between visits."""
        return self.name or self.email or self.clerk_id

    @property
    def actor(self) -> Mapping[str, Any] | None:
        """Who is acting for the user when the session is an impersonation (Clerk's ``act``
        claim, e.g. ``{"sub": "user_admin"}``), else None. Apps may want to show it, or
        refuse spending while impersonated."""
        act = self.claims.get("act") if self.claims is not None else None
        return act if isinstance(act, Mapping) else None

    @property
    def organization(self) -> Organization | None:
        """The organisation the session is active in, from the token's claims; None for PATs
        and for tokens without organisation claims."""
        return Organization.from_claims(self.claims) if self.claims is not None else None

    def with_credits(self, credits: int) -> FocusAccount:
        return dataclasses.replace(self, credits=credits)

    def __repr__(self) -> str:
        # Display-safe: no claims (they carry session ids), nothing a log should not hold.
        return (
            f"FocusAccount(clerk_id={self.clerk_id!r}, plan={self.plan!r}, credits={self.credits}, "
            f"credential_kind={self.credential_kind!r}{', stale=True' if self.stale else ''})"
        )


# -- jobs ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    """One row of ``GET /api/jobs``. ``status`` is ``started``, ``completed`` or ``failed``
    (kept as a string: the real service may add states)."""

    id: str
    app: str | None
    action: str | None
    status: str
    cost_estimate: int | None = None
    actual_cost: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, hash=False)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Any, where: str = "job") -> Job:
        obj = _obj(data, where)
        job_id = obj.get("id", obj.get("job_id"))
        return cls(
            id=_req_str({"id": job_id}, "id", where),
            app=_opt_str(obj, "app"),
            action=_opt_str(obj, "action"),
            status=_req_str(obj, "status", where),
            cost_estimate=_opt_int(obj, "cost_estimate"),
            actual_cost=_opt_int(obj, "actual_cost"),
            metadata=_frozen_mapping(obj.get("metadata")),
            created_at=_opt_time(obj, "created_at"),
            updated_at=_opt_time(obj, "updated_at"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": self.app,
            "action": self.action,
            "status": self.status,
            "cost_estimate": self.cost_estimate,
            "actual_cost": self.actual_cost,
            "metadata": thaw(self.metadata),
            "created_at": _time_json(self.created_at),
            "updated_at": _time_json(self.updated_at),
        }

    @property
    def request_id(self) -> str | None:
        value = self.metadata.get("request_id")
        return value if isinstance(value, str) else None


def jobs_from_json(data: Any) -> list[Job]:
    """``{"jobs": [...]}`` (or a bare list). Unreadable rows are skipped, not fatal."""
    rows = data.get("jobs") if isinstance(data, Mapping) else data
    if not isinstance(rows, list):
        raise PayloadError("jobs must be a JSON array")
    jobs = []
    for i, row in enumerate(rows):
        try:
            jobs.append(Job.from_json(row, f"jobs[{i}]"))
        except PayloadError:
            continue
    return jobs


@dataclass(frozen=True, slots=True)
class CreatedJob:
    """The answer of ``POST /api/jobs``: the job id, and (when the service says) its status
    and the balance left after the reservation."""

    job_id: str
    status: str | None = None
    credits: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> CreatedJob:
        obj = _obj(data, "created job")
        job_id = obj.get("job_id", obj.get("id"))
        return cls(
            job_id=_req_str({"job_id": job_id}, "job_id", "created job"),
            status=_opt_str(obj, "status"),
            credits=_opt_int(obj, "credits"),
        )


@dataclass(frozen=True, slots=True)
class SettledJob:
    """The outcome of completing or failing a job. ``credits`` is the balance afterwards
    when the service reported it (None when the outcome was confirmed by listing jobs)."""

    job_id: str
    status: str
    actual_cost: int | None = None
    credits: int | None = None

    @classmethod
    def from_json(cls, data: Any, *, job_id: str, status: str, actual_cost: int | None) -> SettledJob:
        obj = data if isinstance(data, Mapping) else _EMPTY
        nested = obj.get("job")
        if isinstance(nested, Mapping):
            obj = {**nested, **{k: v for k, v in obj.items() if k != "job"}}
        cost = _opt_int(obj, "actual_cost")
        return cls(
            job_id=job_id,
            status=_opt_str(obj, "status") or status,
            actual_cost=cost if cost is not None else actual_cost,
            credits=_opt_int(obj, "credits"),
        )


# -- sign-in and device flow ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionToken:
    """``GET /api/sessionToken``: a fresh Clerk session JWT (never shown in a repr)."""

    token: str = field(repr=False)

    @classmethod
    def from_json(cls, data: Any) -> SessionToken:
        return cls(token=_req_str(_obj(data, "session token"), "token", "session token"))


@dataclass(frozen=True, slots=True)
class DeviceStart:
    """``POST /api/device/start``: show ``user_code`` and ``verification_uri`` to the user,
    poll with ``device_code`` (a secret until redeemed, kept out of the repr)."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    expires_in: int = 900
    interval: int = 5
    verification_uri_complete: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> DeviceStart:
        obj = _obj(data, "device start")
        expires_in = _opt_int(obj, "expires_in")
        interval = _opt_int(obj, "interval")  # RFC 8628: 5 s when absent; never below 1 s
        return cls(
            device_code=_req_str(obj, "device_code", "device start"),
            user_code=_req_str(obj, "user_code", "device start"),
            verification_uri=_req_str(obj, "verification_uri", "device start"),
            expires_in=900 if expires_in is None else expires_in,
            interval=5 if interval is None else max(1, interval),
            verification_uri_complete=_opt_str(obj, "verification_uri_complete"),
        )


_POLL_STATUSES: frozenset[str] = frozenset(get_args(DevicePollStatus))


@dataclass(frozen=True, slots=True)
class DevicePoll:
    """One poll of the device flow, as a value: ``pending`` (202), ``approved`` with the PAT
    in ``token`` (200), or one of RFC 8628's answers (400): ``slow_down`` (add 5 s to the
    interval, for good), ``expired_token``, ``access_denied``, ``invalid_grant``."""

    status: DevicePollStatus
    token: str | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        """No point polling again: approved, or a final refusal."""
        return self.status not in ("pending", "slow_down")

    @staticmethod
    def is_status(value: object) -> bool:
        return isinstance(value, str) and value in _POLL_STATUSES


__all__ = [
    "JOB_COMPLETED",
    "JOB_FAILED",
    "JOB_STARTED",
    "AccountInfo",
    "AppGrant",
    "AppInfo",
    "CreatedJob",
    "CredentialKind",
    "DevicePoll",
    "DevicePollStatus",
    "DeviceStart",
    "FocusAccount",
    "Job",
    "Organization",
    "SessionToken",
    "SettledJob",
    "Wallet",
    "freeze",
    "jobs_from_json",
    "thaw",
]
