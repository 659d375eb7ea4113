"""The emulator's OpenAPI 3.1 document: every endpoint it serves, with its schemas.

Written by hand next to the handlers rather than derived from them, because it is a
claim to check: a schemathesis test drives the live emulator from this document and fails
on any answer that is not described here (status, content type or body shape). The
``/api/docs`` page is rendered from the same document.
"""

from __future__ import annotations

from typing import Any

from focus_middleware.testing.inputs import MAX_COST, MAX_LIST
from focus_middleware.testing.store import STATUSES

JSON = "application/json"
HTML = "text/html"
FORM = "application/x-www-form-urlencoded"
SLUG_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

Schema = dict[str, Any]

API_AUTH: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]
PERSON_AUTH: list[dict[str, list[str]]] = [{"signin": []}, {"bearer": []}, {"session": []}]
PAGE_AUTH: list[dict[str, list[str]]] = [{}, {"signin": []}]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(names: list[str], /, **properties: Schema) -> Schema:
    """An object with ``properties``, of which ``names`` are required."""
    return {"type": "object", "required": names, "properties": properties}


def _json(description: str, schema: Schema, **headers: Schema) -> Schema:
    response: Schema = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = {name: {"schema": h} for name, h in headers.items()}
    return response


def _html(description: str) -> Schema:
    return {"description": description, "content": {HTML: {"schema": {"type": "string"}}}}


def _error(description: str) -> Schema:
    return _json(description, _ref("Error"))


def _redirect(description: str) -> Schema:
    return {
        "description": description,
        "headers": {"Location": {"schema": {"type": "string"}, "required": True}},
    }


INT = {"type": "integer"}
STR = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
COST = {"type": "integer", "minimum": 0, "maximum": MAX_COST}
SLUG = {"type": "string", "pattern": SLUG_PATTERN}

SCHEMAS: dict[str, Schema] = {
    "Error": _obj(["error"], error=STR, message=STR),
    "Unauthorized": _obj(["error", "signin_url"], error=STR, message=STR, signin_url=STR),
    "InsufficientCredits": _obj(
        ["error", "required", "available"],
        error={"const": "insufficient_credits"},
        message=STR,
        required=INT,
        available=INT,
    ),
    "Account": _obj(
        ["id", "clerk_id", "plan", "credits"], id=STR, clerk_id=STR, plan=STR, credits=INT,
        name=STR, email=STR,
    ),
    "AppGrant": _obj(
        ["slug", "starter_credits", "granted"],
        slug=STR,
        starter_credits=INT,
        granted={"type": "boolean"},
        granted_at=TIME,
    ),
    "Wallet": _obj(
        ["account", "apps"],
        account=_ref("Account"),
        apps={"type": "array", "items": _ref("AppGrant")},
        app_grant=_ref("AppGrant"),
    ),
    "NewJob": _obj(
        ["app", "action", "cost_estimate"],
        app=SLUG,
        action={"type": "string", "minLength": 1, "maxLength": 200},
        cost_estimate=COST,
        metadata={"type": "object"},
    ),
    "CreatedJob": _obj(
        ["job_id", "status", "credits"], job_id=STR, status={"const": "started"}, credits=INT
    ),
    "Completion": _obj(
        ["job_id", "actual_cost"],
        job_id={"type": "string", "minLength": 1, "maxLength": 100},
        actual_cost=COST,
        metadata={"type": "object"},
    ),
    "Failure": _obj(
        ["job_id"],
        job_id={"type": "string", "minLength": 1, "maxLength": 100},
        refund={"type": "boolean", "default": True},
    ),
    "SettledJob": _obj(
        ["job_id", "status", "credits"],
        job_id=STR,
        status={"enum": ["completed", "failed"]},
        actual_cost=INT,
        refunded={"type": "boolean"},
        credits=INT,
    ),
    "Job": _obj(
        ["id", "app", "action", "status", "cost_estimate", "actual_cost", "metadata"],
        id=STR,
        app=STR,
        action=STR,
        status={"enum": list(STATUSES)},
        cost_estimate=INT,
        actual_cost={"type": ["integer", "null"]},
        metadata={"type": "object"},
        created_at=TIME,
        updated_at=TIME,
    ),
    "JobList": _obj(["jobs"], jobs={"type": "array", "items": _ref("Job")}),
    "Token": _obj(["token"], token=STR),
    "DeviceStartRequest": {
        "type": "object",
        "properties": {"client_name": {"type": "string", "minLength": 1, "maxLength": 100}},
    },
    "DeviceStart": _obj(
        ["device_code", "user_code", "verification_uri", "expires_in", "interval"],
        device_code=STR,
        user_code={"type": "string", "pattern": "^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$"},
        verification_uri=STR,
        verification_uri_complete=STR,
        expires_in=INT,
        interval=INT,
    ),
    "DeviceDecision": _obj(
        ["user_code"],
        user_code={"type": "string", "minLength": 1, "maxLength": 20},
        approve={"type": "boolean", "default": True},
    ),
    "Ok": _obj(["ok"], ok={"const": True}),
    "PollError": _obj(
        ["error"],
        error={"enum": ["slow_down", "expired_token", "access_denied", "invalid_grant", "invalid_request"]},
        message=STR,
    ),
    "ProviderToken": _obj(["provider", "token"], provider=STR, token=STR),
    "XUser": _obj(
        ["data"], data=_obj(["id", "name", "username"], id=STR, name=STR, username=STR)
    ),
    "JWKS": _obj(
        ["keys"],
        keys={
            "type": "array",
            "items": _obj(["kty", "kid", "n", "e"], kty=STR, kid=STR, use=STR, alg=STR, n=STR, e=STR),
        },
    ),
    "SignInForm": {
        "type": "object",
        "properties": {
            "csrf": STR, "redirect_to": STR, "user": STR, "name": STR, "email": STR,
        },
    },
    "SignOutForm": {"type": "object", "properties": {"csrf": STR, "redirect_to": STR}},
    "DeviceForm": {
        "type": "object",
        "properties": {"csrf": STR, "user_code": STR, "decision": {"enum": ["approve", "deny"]}},
    },
    "BillingForm": {
        "type": "object",
        "properties": {"csrf": STR, "redirect_to": STR, "amount": STR},
    },
}

UNAUTHORIZED = _json("missing or invalid credentials", _ref("Unauthorized"))
BAD_BODY = {
    "400": _error("invalid JSON or an invalid field"),
    "401": UNAUTHORIZED,
    "413": _error("the body is too large"),
}
PAGE_ERRORS = {
    "400": _html("a refused redirect_to or an invalid field, and why"),
    "403": _html("the form did not come from the emulator's page"),
    "413": _html("the form is too large"),
    "415": _html("not a urlencoded form"),
}


def _query(name: str, schema: Schema, description: str, required: bool = False) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def _body(schema_name: str, media: str = JSON, required: bool = True) -> Schema:
    return {"required": required, "content": {media: {"schema": _ref(schema_name)}}}


REDIRECT_TO = _query("redirect_to", STR, "absolute http(s) URL on an allowed origin")


def _api_paths() -> dict[str, Schema]:
    return {
        "/api/wallet": {
            "get": {
                "summary": "The caller's account and balance; with app, grants its starter credits once.",
                "security": API_AUTH,
                "parameters": [_query("app", SLUG, "an app slug")],
                "responses": {
                    "200": _json("the wallet", _ref("Wallet")),
                    "400": _error("an invalid app slug"),
                    "401": UNAUTHORIZED,
                },
            }
        },
        "/api/jobs": {
            "post": {
                "summary": "Start a job, reserving its cost estimate.",
                "security": API_AUTH,
                "requestBody": _body("NewJob"),
                "responses": {
                    "200": _json("the job, started", _ref("CreatedJob")),
                    "402": _json("not enough credits", _ref("InsufficientCredits")),
                    **BAD_BODY,
                },
            },
            "get": {
                "summary": "The caller's jobs, newest first.",
                "security": API_AUTH,
                "parameters": [
                    _query("app", SLUG, "only this app's jobs"),
                    _query("status", {"enum": list(STATUSES)}, "only jobs in this status"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIST}, "at most this many"),
                ],
                "responses": {
                    "200": _json("the jobs", _ref("JobList")),
                    "400": _error("an invalid filter"),
                    "401": UNAUTHORIZED,
                },
            },
        },
        "/api/jobs/complete": {
            "post": {
                "summary": "Settle a job at its actual cost (final; the same settlement repeats its answer).",
                "security": API_AUTH,
                "requestBody": _body("Completion"),
                "responses": {
                    "200": _json("the settled job", _ref("SettledJob")),
                    "404": _error("no such job for this account"),
                    "409": _error("already settled differently"),
                    **BAD_BODY,
                },
            }
        },
        "/api/jobs/fail": {
            "post": {
                "summary": "Fail a job, refunding its reserve unless refund is false.",
                "security": API_AUTH,
                "requestBody": _body("Failure"),
                "responses": {
                    "200": _json("the failed job", _ref("SettledJob")),
                    "404": _error("no such job for this account"),
                    "409": _error("already settled differently"),
                    **BAD_BODY,
                },
            }
        },
        "/api/sessionToken": {
            "get": {
                "summary": "A fresh session JWT for the browser signed in to Focus (cookie).",
                "security": [{"signin": []}],
                "responses": {
                    "200": _json("a session JWT", _ref("Token")),
                    "401": UNAUTHORIZED,
                },
            }
        },
        "/api/device/start": {
            "post": {
                "summary": "Start a device-code sign-in (RFC 8628).",
                "security": [{}],
                "requestBody": _body("DeviceStartRequest", required=False),
                "responses": {
                    "200": _json("the codes", _ref("DeviceStart")),
                    "400": _error("invalid JSON or client_name"),
                    "413": _error("the body is too large"),
                },
            }
        },
        "/api/device/complete": {
            "post": {
                "summary": "Approve or deny a user code, as the signed-in person.",
                "security": PERSON_AUTH,
                "requestBody": _body("DeviceDecision"),
                "responses": {
                    "200": _json("decided", _ref("Ok")),
                    "403": _error("a cookie-authenticated call from another origin"),
                    "429": {
                        **_error("too many wrong codes"),
                        "headers": {"Retry-After": {"schema": INT, "required": True}},
                    },
                    **BAD_BODY,
                },
            }
        },
        "/api/device/poll": {
            "get": {
                "summary": "Poll a device code: pending, the PAT (once), or an RFC 8628 error.",
                "security": [{}],
                "parameters": [
                    _query("device_code", {"type": "string", "minLength": 1, "maxLength": 200}, "from start", True)
                ],
                "responses": {
                    "200": _json("approved: the PAT, handed out once", _ref("Token")),
                    "202": _json("still pending", _ref("Error")),
                    "400": _json("slow_down, expired_token, access_denied or invalid_grant", _ref("PollError")),
                },
            }
        },
        "/api/xToken": {
            "get": {
                "summary": "The user's X access token (emulated).",
                "security": API_AUTH,
                "responses": {
                    "200": _json("the token", _ref("ProviderToken")),
                    "401": UNAUTHORIZED,
                    "404": _error("X is not connected"),
                },
            }
        },
        "/api/oauthToken/{provider}": {
            "get": {
                "summary": "The user's access token for an OAuth provider (emulated).",
                "security": API_AUTH,
                "parameters": [
                    {"name": "provider", "in": "path", "required": True, "schema": SLUG}
                ],
                "responses": {
                    "200": _json("the token", _ref("ProviderToken")),
                    "400": _error("an invalid provider slug"),
                    "401": UNAUTHORIZED,
                    "404": _error("the provider is not connected"),
                },
            }
        },
        "/api/xMe": {
            "get": {
                "summary": "X's users/me for an X access token (emulated, offline).",
                "security": [{"xToken": []}],
                "responses": {
                    "200": _json("the X user", _ref("XUser")),
                    "401": _error("not an emulated X token"),
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document.",
                "security": [{}],
                "responses": {"200": _json("the OpenAPI document", {"type": "object"})},
            }
        },
        "/api/docs": {
            "get": {
                "summary": "This API, for people.",
                "security": [{}],
                "responses": {"200": _html("the documentation page")},
            }
        },
        "/.well-known/jwks.json": {
            "get": {
                "summary": "The issuer's public keys (signing key first).",
                "security": [{}],
                "responses": {"200": _json("the JWKS", _ref("JWKS"))},
            }
        },
    }


def _page(summary: str, form: str, get_params: list[Schema], **get_responses: Schema) -> Schema:
    return {
        "get": {
            "summary": summary,
            "security": PAGE_AUTH,
            "parameters": get_params,
            "responses": {"200": _html("the page"), **get_responses},
        },
        "post": {
            "summary": f"The form of {summary[0].lower()}{summary[1:]}",
            "security": PAGE_AUTH,
            "requestBody": _body(form, FORM),
            "responses": {
                "200": _html("the result"),
                "303": _redirect("back to redirect_to"),
                "401": _html("not signed in"),
                "429": _html("too many wrong codes"),
                **PAGE_ERRORS,
            },
        },
    }


def _page_paths() -> dict[str, Schema]:
    bad_redirect = {"400": _html("a refused redirect_to, and why")}
    signin_first = {"303": _redirect("to sign-in (and back)"), "400": _html("a refused redirect_to")}
    device = _page(
        "The device page: enter a code, then approve or deny.",
        "DeviceForm",
        [_query("user_code", STR, "the code shown by the program")],
        **signin_first,
        **{"429": _html("too many wrong codes")},
    )
    index = {
        "get": {
            "summary": "The index: who is signed in here, every wallet, recent jobs, links to the pages.",
            "security": PAGE_AUTH,
            "responses": {"200": _html("the page")},
        },
    }
    return {
        "/": index,
        "/signin": _page(
            "Sign-in: pick or create a user; back to redirect_to with ?token= (an app's; the"
            " emulator's own pages get none: its sign-in cookie is enough).",
            "SignInForm",
            [REDIRECT_TO, _query("app", STR, "the app's name, shown on the page (else its host)")],
            **{"303": _redirect("signed in already: back with a fresh token")},
            **bad_redirect,
        ),
        "/signout": _page("Sign-out.", "SignOutForm", [REDIRECT_TO], **bad_redirect),
        "/device": device,
        "/billing": _page("Buying credits.", "BillingForm", [REDIRECT_TO], **signin_first),
    }


def document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Focus account service (emulator)",
            "version": "1",
            "description": "The Focus account API as the local emulator serves it.",
        },
        "servers": [{"url": server_url}],
        "paths": {**_api_paths(), **_page_paths()},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a Clerk session JWT or a personal access token",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "__session"},
                "signin": {"type": "apiKey", "in": "cookie", "name": "focus_emulator_signin"},
                "xToken": {"type": "http", "scheme": "bearer", "description": "an X access token"},
            },
        },
    }


def summaries(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(method, path, summary) for every operation, for the docs page."""
    return [
        (method.upper(), path, operation.get("summary", ""))
        for path, item in doc["paths"].items()
        for method, operation in item.items()
    ]
