"""The emulator's pages, as plain server-rendered HTML.

Small builders, one per page. The rule that keeps them safe is mechanical: every value
that did not come from this file goes through :func:`e` (``html.escape`` with quotes) at
the point where it is put into markup, including attribute values and URLs; fragments
these builders return are the only unescaped strings ever joined.

Elements a browser test drives have ids: ``#name``, ``#email``, ``#sign-in``,
``#sign-out``, ``#user_code``, ``#continue``, ``#approve``, ``#deny``, ``#buy-10``...
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from focus_middleware.testing.store import Account

CSRF_FIELD = "csrf"
BUY_AMOUNTS = (10, 50, 100)

_STYLE = """
:root { color-scheme: light; --ink: #1d1d1f; --muted: #5f6368; --accent: #5b3cc4; --line: #e3e3e8; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
       margin: 0; background: #f7f7fa; }
header { background: #fff; border-bottom: 1px solid var(--line); }
header nav, main, footer { max-width: 42rem; margin: 0 auto; padding: .8rem 1.2rem; }
header nav { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
header nav a { color: var(--muted); text-decoration: none; }
header nav a.brand { font-weight: 700; color: var(--accent); margin-right: auto; }
main { background: #fff; border: 1px solid var(--line); border-radius: 12px; margin-top: 1.5rem; }
h1 { font-size: 1.5rem; margin: .4rem 0 .8rem; } h2 { font-size: 1.1rem; margin: 1.2rem 0 .4rem; }
.note, footer { color: var(--muted); font-size: .9rem; } .error { color: #b00020; }
form { margin: .8rem 0; } label { display: block; margin-top: .5rem; font-size: .9rem; color: var(--muted); }
input[type=text], input[type=email] { font: inherit; padding: .45rem .6rem; width: 100%;
       border: 1px solid var(--line); border-radius: 8px; }
button { font: inherit; padding: .5rem 1rem; margin: .5rem .5rem 0 0; cursor: pointer; border: 0;
         border-radius: 8px; background: var(--accent); color: #fff; }
button.user { background: #ececf3; color: var(--ink); text-align: left; width: 100%; }
ul.users { list-style: none; padding: 0; } ul.users li { margin: .3rem 0; } ul.users form { margin: 0; }
code, .code { font-family: ui-monospace, monospace; } .code { font-size: 1.2rem; }
table { border-collapse: collapse; width: 100%; } td, th { padding: .3rem .6rem; text-align: left;
       border-bottom: 1px solid var(--line); vertical-align: top; font-size: .95rem; }
"""


_NAV = (
    '<header><nav><a class="brand" href="/" id="home">Focus emulator</a>'
    '<a href="/signin" id="nav-signin">Sign in</a><a href="/billing" id="nav-billing">Credits</a>'
    '<a href="/device" id="nav-device">Devices</a><a href="/api/docs" id="nav-docs">API</a></nav></header>'
)


def e(value: object) -> str:
    """Escape for HTML text and attribute values alike."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str) -> str:
    """The document around a page's body (``body`` is markup built here)."""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{e(title)} · Focus emulator</title><style>{_STYLE}</style></head>"
        f"<body>{_NAV}<main><h1>{e(title)}</h1>{body}</main>"
        "<footer><p>Focus account emulator: local, for development.</p></footer>"
        "</body></html>\n"
    )


def _hidden(name: str, value: str | None) -> str:
    if value is None:
        return ""
    return f'<input type="hidden" name="{e(name)}" value="{e(value)}">'


def _form(action: str, csrf: str, fields: dict[str, str | None], inner: str) -> str:
    hidden = _hidden(CSRF_FIELD, csrf) + "".join(_hidden(k, v) for k, v in fields.items())
    return f'<form method="post" action="{e(action)}">{hidden}{inner}</form>'


def _person(account: Account) -> str:
    email = f" &lt;{e(account.email)}&gt;" if account.email and account.name else ""
    return f"<strong>{e(account.display_name)}</strong>{email}"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%H:%M:%S UTC")


# -- sign-in and sign-out -----------------------------------------------------------------


def app_display_name(return_origin: str | None, app: str | None) -> str | None:
    """What the sign-in page calls the app a person signs in to: the ``app`` parameter
    when given, else the host it returns to (``127.0.0.1:8000``; ``video`` for
    ``https://video.thefocus.ai``, as apps on Focus's domain are named by their subdomain)."""
    if app and app.strip():
        return app.strip()[:60]
    if not return_origin:
        return None
    host = return_origin.split("://", 1)[-1]
    labels = host.split(".")
    if len(labels) >= 3 and not host.replace(".", "").replace(":", "").isdigit() and labels[0] != "www":
        return labels[0]
    return host


def signin(
    accounts: Sequence[Account], redirect_to: str | None, return_origin: str | None, csrf: str,
    app: str | None = None,
) -> str:
    fields = {"redirect_to": redirect_to}
    name = app_display_name(return_origin, app)
    where = (
        f'<p>Sign in to continue to <strong id="app-name">{e(name)}</strong>.</p>'
        f'<p class="note">You will return to <strong id="return-origin">{e(return_origin)}'
        "</strong>.</p>"
        if return_origin and name
        else ""
    )
    users = "".join(
        f"<li>{_form('/signin', csrf, {**fields, 'user': a.clerk_id}, _user_button(a))}</li>"
        for a in accounts
    )
    existing = (
        f'<h2>Continue as</h2><ul class="users" id="users">{users}</ul>' if users else ""
    )
    create = _form(
        "/signin",
        csrf,
        fields,
        '<h2>Or sign in with an email</h2>'
        '<p class="note">A new user is created unless one has this email.</p>'
        '<label for="name">Name</label><input type="text" id="name" name="name" maxlength="100">'
        '<label for="email">Email</label>'
        '<input type="email" id="email" name="email" maxlength="200" required>'
        '<button type="submit" id="sign-in">Sign in</button>',
    )
    return page("Sign in", where + existing + create)


def _user_button(account: Account) -> str:
    return (
        f'<button type="submit" class="user" id="user-{e(account.clerk_id)}"'
        f' data-email="{e(account.email or "")}">{_person(account)}</button>'
    )


def signed_in(account: Account) -> str:
    return page(
        "Signed in",
        f'<p id="signed-in-as">You are signed in as {_person(account)}.</p>'
        '<p><a href="/signout" id="sign-out-link">Sign out</a></p>',
    )


def signout(account: Account | None, redirect_to: str | None, csrf: str) -> str:
    if account is None:
        return signed_out(redirect_to)
    button = '<button type="submit" id="sign-out">Sign out</button>'
    return page(
        "Sign out",
        f"<p>Signed in as {_person(account)}.</p>"
        + _form("/signout", csrf, {"redirect_to": redirect_to}, button),
    )


def signed_out(redirect_to: str | None) -> str:
    back = f'<p><a id="continue" href="{e(redirect_to)}">Continue</a></p>' if redirect_to else ""
    return page("Signed out", '<p id="signed-out">You are signed out of Focus.</p>' + back)


# -- the device page ----------------------------------------------------------------------


def device_entry(account: Account, user_code: str = "", error: str | None = None) -> str:
    problem = f'<p class="error" id="error" role="alert">{e(error)}</p>' if error else ""
    return page(
        "Connect a device",
        f"<p>Signed in as {_person(account)}.</p>{problem}"
        '<form method="get" action="/device">'
        '<label for="user_code">Enter the code shown by the program</label>'
        f'<input type="text" id="user_code" name="user_code" value="{e(user_code)}"'
        ' autocomplete="off" autocapitalize="characters" spellcheck="false"'
        ' placeholder="XXXX-XXXX" maxlength="20" required>'
        '<button type="submit" id="continue">Continue</button></form>',
    )


def device_confirm(
    account: Account, user_code: str, client_name: str, client_address: str | None,
    expires_at: float, csrf: str,
) -> str:
    origin = f" from <strong>{e(client_address)}</strong>" if client_address else ""
    buttons = (
        '<button type="submit" name="decision" value="approve" id="approve">Approve</button>'
        '<button type="submit" name="decision" value="deny" id="deny">Deny</button>'
    )
    return page(
        "Approve this device?",
        f'<p><strong id="client-name">{e(client_name)}</strong>{origin} asks to act as'
        f" {_person(account)} on Focus.</p>"
        f'<p>Check that it shows the same code: <span class="code" id="code">{e(user_code)}'
        "</span></p>"
        "<p>Approving gives it a personal access token for your account, valid for 90 days:"
        " it can see your wallet and spend your credits.</p>"
        f'<p class="note">This request expires at {e(_when(expires_at))}.</p>'
        + _form("/device", csrf, {"user_code": user_code}, buttons),
    )


def device_done(approved: bool) -> str:
    if approved:
        return page(
            "Device approved",
            '<p id="approved">Done. You can go back to your terminal.</p>',
        )
    return page("Device denied", '<p id="denied">The request was denied. Nothing was shared.</p>')


# -- buying credits -----------------------------------------------------------------------


def billing(
    account: Account, redirect_to: str | None, csrf: str, amounts: Iterable[int] = BUY_AMOUNTS,
    added: int | None = None, need: int | None = None,
) -> str:
    """``need``: how many more credits the app said the person needs (the 402's ``need``
    parameter, an assumption of focus-middleware's): said, and the smallest amount that
    covers it is offered first."""
    if need:
        amounts = sorted(amounts, key=lambda a: (a < need, a))
    buttons = "".join(
        f'<button type="submit" name="amount" value="{a}" id="buy-{a}">Buy {a} credits</button>'
        for a in amounts
    )
    done = f'<p id="added">Added {e(added)} credits.</p>' if added else ""
    if need and not added:
        done += f'<p id="need">You need <strong id="needed">{e(need)}</strong> more credits for what you were doing.</p>'
    back = f'<p><a id="back" href="{e(redirect_to)}">Back</a></p>' if redirect_to else ""
    return page(
        "Buy credits",
        f"{done}<p>Signed in as {_person(account)}.</p>"
        f'<p>Balance: <strong id="balance">{e(account.credits)}</strong> credits.</p>'
        '<p class="note">This is the emulator: credits are added at once, free.</p>'
        + _form("/billing", csrf, {"redirect_to": redirect_to}, buttons)
        + back,
    )


# -- the index ---------------------------------------------------------------------------


def index(
    signed_in_as: Account | None, accounts: Sequence[Account], jobs: Sequence[dict[str, object]],
    url: str,
) -> str:
    """``/``: what the emulator holds, and where its pages are (the URL the demo prints)."""
    who = (
        f'<p id="signed-in-as">Signed in as {_person(signed_in_as)}.'
        ' <a href="/signout" id="sign-out-link">Sign out</a></p>'
        if signed_in_as is not None
        else '<p id="signed-out">Nobody is signed in in this browser. <a href="/signin" id="sign-in-link">Sign in</a></p>'
    )
    links = (
        '<ul id="links"><li><a href="/signin">Sign in</a>: the page apps send people to</li>'
        '<li><a href="/billing">Buy credits</a>: free, added at once</li>'
        '<li><a href="/device">Connect a device</a>: approve a <code>focus login</code></li>'
        '<li><a href="/api/docs">API</a> (<a href="/api/openapi.json">OpenAPI</a>)</li></ul>'
    )
    wallets = "".join(
        f"<tr><td>{_person(a)}</td><td><code>{e(a.clerk_id)}</code></td><td>{e(a.plan)}</td>"
        f'<td class="credits">{e(a.credits)}</td></tr>'
        for a in accounts
    )
    wallet_table = (
        '<table id="wallets"><thead><tr><th>User</th><th>Clerk id</th><th>Plan</th><th>Credits</th>'
        f"</tr></thead><tbody>{wallets}</tbody></table>"
        if wallets else '<p class="note" id="wallets">No users yet.</p>'
    )
    rows = "".join(
        f"<tr><td>{e(j.get('who', ''))}</td><td>{e(j.get('app', ''))}</td><td>{e(j.get('action', ''))}</td>"
        f"<td>{e(j.get('status', ''))}</td><td>{e(j.get('cost_estimate', ''))}</td>"
        f"<td>{e('' if j.get('actual_cost') is None else j.get('actual_cost'))}</td></tr>"
        for j in jobs
    )
    job_table = (
        '<table id="jobs"><thead><tr><th>User</th><th>App</th><th>Action</th><th>Status</th>'
        f"<th>Reserved</th><th>Charged</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows else '<p class="note" id="jobs">No jobs yet.</p>'
    )
    return page(
        "Focus emulator",
        f'<p class="note">A local stand-in for the Focus account service at <code>{e(url)}</code>.</p>'
        + who + links + "<h2>Wallets</h2>" + wallet_table + "<h2>Recent jobs</h2>" + job_table,
    )


# -- errors and the docs --------------------------------------------------------------------


def problem(title: str, message: str) -> str:
    return page(title, f'<p class="error" id="error" role="alert">{e(message)}</p>')


def docs(rows: Iterable[tuple[str, str, str]]) -> str:
    """``/api/docs``: one row per (method, path, summary)."""
    body = "".join(
        f"<tr><td><code>{e(method)}</code></td><td><code>{e(path)}</code></td>"
        f"<td>{e(summary)}</td></tr>"
        for method, path, summary in rows
    )
    return page(
        "Focus emulator API",
        '<p>The machine-readable description is <a href="/api/openapi.json">'
        "/api/openapi.json</a>. API endpoints take <code>Authorization: Bearer</code> with a"
        " session JWT or a personal access token, or the <code>__session</code> cookie.</p>"
        f"<table><thead><tr><th>Method</th><th>Path</th><th>What it does</th></tr></thead>"
        f"<tbody>{body}</tbody></table>",
    )
