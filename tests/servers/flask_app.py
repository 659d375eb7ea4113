"""A Flask app for ``flask --app tests.servers.flask_app run``, with the README's one line
for Werkzeug's request log."""

from __future__ import annotations

import os

from flask import Flask

from flask_focus import Focus
from focus_middleware.logging import install


def create_app() -> Flask:
    install("werkzeug")
    app = Flask(__name__)
    app.config.update({k: v for k, v in os.environ.items() if k in ("FOCUS_API_URL", "FOCUS_ISSUER", "FOCUS_APP",
                                                                   "FOCUS_PUBLIC_ORIGIN")})
    focus = Focus(app)

    @app.get("/studio")
    @focus.login_required
    def studio() -> str:
        return "studio"

    return app
