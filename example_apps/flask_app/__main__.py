"""``python -m example_apps.flask_app [--host H] [--port P]``: serve Clip Studio with
Werkzeug's development server (threaded; use gunicorn or similar in production)."""

from __future__ import annotations

import logging

from example_apps.common import banner, flask_settings, focus_settings, parse_server_args
from example_apps.flask_app.app import create_app
from flask_focus import state_of


def main() -> None:
    server = parse_server_args("Clip Studio, a Focus app on Flask")
    app = create_app(flask_settings(focus_settings(server)))
    print(banner("Flask", server, state_of(app).config), flush=True)
    # The access log would show the sign-in return trip's ?token=: warnings and errors only.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app.run(host=server.host, port=server.port, threaded=True)


if __name__ == "__main__":
    main()
