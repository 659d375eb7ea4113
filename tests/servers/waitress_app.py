"""The WSGI app under waitress, with the README's one line for waitress's logger."""

from focus_middleware.logging import install
from tests.servers.apps import wsgi_app as app

install("waitress")

__all__ = ["app"]
