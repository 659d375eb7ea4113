"""``application`` for ASGI servers (uvicorn), as ``startproject``'s asgi.py."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.chaos.apps.django_site")
application = get_asgi_application()
