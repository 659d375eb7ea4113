"""``python -m example_apps.django_app [--host H] [--port P]``: serve Clip Studio with Django's
development server (use gunicorn or uvicorn with ``wsgi.py``/``asgi.py`` in production).

Anything else is a management command: ``python -m example_apps.django_app check``.
"""

from __future__ import annotations

import os
import sys

from example_apps.common import parse_server_args


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_apps.django_app.settings")
    from django.core.management import execute_from_command_line

    if argv and not argv[0].startswith("-"):
        execute_from_command_line(["django_app", *argv])
        return
    server = parse_server_args("Clip Studio, a Focus app on Django", argv)
    # settings.py reads where it is served from, for its public origin and ALLOWED_HOSTS.
    os.environ["HOST"], os.environ["PORT"] = server.host, str(server.port)
    from django.conf import settings

    from example_apps.common import banner
    from focus_middleware import FocusConfig

    print(banner("Django", server, FocusConfig.from_mapping(settings.FOCUS)), flush=True)
    execute_from_command_line(["django_app", "runserver", "--noreload", f"{server.host}:{server.port}"])


if __name__ == "__main__":
    main(sys.argv[1:])
