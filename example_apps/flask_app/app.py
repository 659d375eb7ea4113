"""Clip Studio on Flask, with Flask-Focus: a Focus app that renders video previews for credits.

The same app as the FastAPI one, in Flask's shape: an app factory, one ``Focus()``
extension set up with ``init_app``, the views in a blueprint.

- ``GET /``: the public page (``current_account`` is falsy for anonymous visitors)
- ``GET /studio``: your account and credits (``@focus.login_required``)
- ``POST /render``: a paid form post (``@focus.paid``): 5 credits reserved, 3 charged once
  the answer went out, all returned if anything fails; the 402 page when too few. It
  redirects to the result page, ``GET /renders/<job_id>`` (post/redirect/get: a reload
  never posts again), and the form's idempotency key (``focus_idempotency_field()``)
  makes the same form sent twice one render and one charge
- ``POST /render/stream``: the same with live progress, charged after the last line
- ``GET /api/me``, ``POST /api/render``: the same for scripts with a personal access token

Settings are ``FOCUS_*`` keys of ``app.config``: from the environment, with the demo's
values as defaults (``example_apps.common``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from example_apps.common import (
    RESULT_PATH,
    RESULTS,
    PROGRESS,
    RENDER_COST,
    RENDER_ESTIMATE,
    RENDER_LABEL,
    STREAM_COST,
    STREAM_ESTIMATE,
    STREAM_FRAMES,
    STYLE,
    clean_title,
    flask_settings,
    focus_settings,
    preview_svg,
    progress_item,
    render_preview,
    render_steps,
)
from flask_focus import Focus, FocusAccount, FocusJob, current_account, state_of
from focus_middleware.billing_notice import back_from_billing
from focus_middleware.pages import not_found
from focus_middleware.responses import is_navigation
from focus_middleware.wsgi import facts_from_environ

focus = Focus()
studio = Blueprint("studio", __name__)


def create_app(settings: Mapping[str, Any] | None = None) -> Flask:
    """The app; ``settings`` (``FOCUS_*`` and Flask keys) override the environment's."""
    app = Flask(__name__)
    app.config.from_mapping(flask_settings(focus_settings()))
    app.config.from_mapping(settings or {})
    focus.init_app(app)
    app.register_blueprint(studio)
    app.register_error_handler(404, page_not_found)
    app.context_processor(lambda: {
        "style": STYLE, "estimate": RENDER_ESTIMATE, "cost": RENDER_COST,
        "stream_estimate": STREAM_ESTIMATE, "stream_cost": STREAM_COST,
    })
    return app


def page_not_found(error: Exception) -> ResponseReturnValue:
    """A browser gets the core's 404 page, like the other refusals; a script gets JSON."""
    facts = facts_from_environ(request.environ)
    if not is_navigation(facts):
        return jsonify(error="not_found"), 404
    spec = not_found(facts=facts, app_name=state_of(current_app).config.app_name or "Clip Studio")
    return Response(spec.body, status=spec.status, headers=list(spec.headers))


def signed_in() -> FocusAccount:
    """The request's account, in the views ``login_required`` and ``paid`` let through."""
    assert current_account, "only for guarded views"
    return current_account


def origin() -> str:
    """The app's public origin (``FOCUS_PUBLIC_ORIGIN``), for the URLs in job metadata."""
    return state_of(current_app).config.public_origin or request.host_url.rstrip("/")


# -- pages ------------------------------------------------------------------------------------------


@studio.get("/")
def home() -> str:
    return render_template("home.html")


@studio.get("/studio")
@focus.login_required
def studio_page() -> str:
    # Back from buying credits (the core's notice, set on the way back): the balance shown
    # was just read from Focus.
    return render_template("studio.html", back="back" in request.args, billed=back_from_billing(request.cookies))


@studio.post("/render")
@focus.paid(action="render", cost_estimate=RENDER_ESTIMATE, description="Preview render", label=RENDER_LABEL,
            usual_cost=RENDER_COST, result_url=RESULT_PATH)
def render() -> ResponseReturnValue:
    job: FocusJob = request.focus_job  # type: ignore[attr-defined]
    preview = render_preview(clean_title(request.form.get("title")), job.job_id, origin())
    job.actual_cost = preview.cost  # settled once this answer went out; the rest goes back
    job.metadata.update(description=preview.description, previewUrl=preview.url)
    where = RESULTS.keep(signed_in().clerk_id, preview, signed_in().credits - preview.cost)
    return redirect(request.root_path + where, 303)


@studio.get("/renders/<job_id>")
@focus.login_required
def result(job_id: str) -> ResponseReturnValue:
    """A render's result page: what the paid post redirected to, safe to reload."""
    found = RESULTS.find(job_id, signed_in().clerk_id)
    if found is None:
        abort(404)
    return render_template("result.html", preview=found.preview, credits_left=found.credits_left)


@studio.post("/render/stream")
@focus.paid(action="render-stream", cost_estimate=STREAM_ESTIMATE, description="Preview render (live)",
            label="Preview render with live progress", usual_cost=STREAM_COST, result_url=RESULT_PATH)
def render_stream() -> Response:
    job: FocusJob = request.focus_job  # type: ignore[attr-defined]
    preview = render_preview(clean_title(request.form.get("title")), job.job_id, origin(), cost=STREAM_COST,
                             frames=STREAM_FRAMES)
    job.metadata.update(description=preview.description, previewUrl=preview.url)
    RESULTS.keep(signed_in().clerk_id, preview, signed_in().credits - preview.cost)  # where a re-post lands
    head, tail = render_template("render_stream.html", preview=preview,
                                 credits_left=signed_in().credits - preview.cost).split(PROGRESS, 1)

    def body() -> Iterator[str]:
        yield head
        for line in render_steps(preview.title):
            yield progress_item(line)
        job.actual_cost = preview.cost  # charged once the last chunk went out
        yield tail

    return Response(body(), mimetype="text/html")


@studio.get("/render")
@studio.get("/render/stream")
def back_to_studio() -> ResponseReturnValue:
    """Where a browser lands back on a paid URL: from buying credits (the 402 page's return
    address), or from Focus after a session too close to its end was renewed (the form
    post is not replayed). The studio, where the render button is."""
    return redirect(url_for("studio.studio_page", back=1), 303)


@studio.get("/previews/<name>")
def preview_image(name: str) -> Response:
    match = re.fullmatch(r"([A-Za-z0-9_-]{1,64})\.svg", name)
    if match is None:
        abort(404)
    return Response(preview_svg(match[1]), mimetype="image/svg+xml",
                    headers={"cache-control": "public, max-age=86400"})


# -- the API, for scripts with a personal access token ----------------------------------------------


@studio.get("/api/me")
@focus.login_required
def api_me() -> Response:
    account = signed_in()
    return jsonify(account_id=account.id, clerk_id=account.clerk_id, credits=account.credits, plan=account.plan,
                   credential=account.credential_kind)


@studio.post("/api/render")
@focus.paid(action="render", cost_estimate=RENDER_ESTIMATE, description="Preview render", label=RENDER_LABEL,
            usual_cost=RENDER_COST)
def api_render() -> Response:
    job: FocusJob = request.focus_job  # type: ignore[attr-defined]
    body = request.get_json(silent=True)
    title = body.get("title") if isinstance(body, dict) else None
    preview = render_preview(clean_title(title), job.job_id, origin())
    job.actual_cost = preview.cost
    job.metadata.update(description=preview.description, previewUrl=preview.url)
    return jsonify(job_id=job.job_id, title=preview.title, description=preview.description,
                   preview_url=preview.url, cost_estimate=job.cost_estimate, actual_cost=preview.cost)


__all__ = ["create_app", "focus"]
