"""The paid Flask app: ``flask --app tests.chaos.apps.flask_app run``, or ``app`` for WSGI
servers (gunicorn, waitress). Configured from ``FOCUS_*`` as the README shows."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from flask import Flask, Response, request, send_file, stream_with_context

from flask_focus import Focus
from focus_middleware.jobs import FocusJob
from tests.chaos.apps import ESTIMATE, payload_path


def _job() -> FocusJob:
    job = request.focus_job  # type: ignore[attr-defined]
    assert isinstance(job, FocusJob)
    job.metadata["ref"] = request.args["ref"]
    return job


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update({k: v for k, v in os.environ.items() if k.startswith("FOCUS_")})
    focus = Focus(app)

    @app.get("/render")
    @focus.paid(action="render", cost_estimate=ESTIMATE)
    def render() -> str:
        job = _job()
        job.actual_cost = int(request.args.get("cost", ESTIMATE))
        time.sleep(float(request.args.get("sleep", 0)))
        return f"ok {request.args['ref']} END\n"

    @app.get("/boom")
    @focus.paid(action="boom", cost_estimate=ESTIMATE)
    def boom() -> str:
        _job()
        raise RuntimeError("the work failed")

    @app.get("/stream")
    @focus.paid(action="stream", cost_estimate=ESTIMATE)
    def stream() -> Response:
        _job()
        chunks, slow, ref = int(request.args.get("chunks", 3)), float(request.args.get("slow", 0)), request.args["ref"]

        def body() -> Iterator[str]:
            for i in range(chunks):
                yield f"chunk {i}\n"
                if slow:
                    time.sleep(slow)
            yield f"{ref} END\n"

        return Response(stream_with_context(body()), mimetype="text/plain")

    @app.get("/file")
    @focus.paid(action="file", cost_estimate=ESTIMATE)
    def file() -> Response:
        _job()
        return send_file(payload_path(), mimetype="text/plain")

    return app


app = create_app()
