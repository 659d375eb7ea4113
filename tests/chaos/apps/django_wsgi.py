"""``application`` for WSGI servers (gunicorn, waitress), as ``startproject``'s wsgi.py."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.chaos.apps.django_site")
application = get_wsgi_application()
