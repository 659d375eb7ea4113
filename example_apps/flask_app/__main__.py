"""``python -m example_apps.flask_app [--host H] [--port P]``: serve Clip Studio with
Werkzeug's development server (threaded; use gunicorn or similar in production)."""

from __future__ import annotations

from example_apps.common import banner, flask_settings, focus_settings, parse_server_args
from example_apps.flask_app.app import create_app
from flask_focus import state_of
from focus_middleware.logging import install as install_log_redaction


def main() -> None:
    server = parse_server_args("Clip Studio, a Focus app on Flask")
    app = create_app(flask_settings(focus_settings(server)))
    print(banner("Flask", server, state_of(app).config), flush=True)
    # Werkzeug logs the raw request line, which carries the return trip's ?token=.
    install_log_redaction("werkzeug")
    app.run(host=server.host, port=server.port, threaded=True)


if __name__ == "__main__":
    main()
