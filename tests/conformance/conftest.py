"""Django is set up for this folder as tests/django/conftest.py does it (the same test
project settings; DJANGO_SETTINGS_MODULE only while Django is set up, then restored, so
subprocesses other folders start do not inherit it)."""

from __future__ import annotations

import os

import django

_previous = os.environ.get("DJANGO_SETTINGS_MODULE")
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.django.settings"
try:
    django.setup()
finally:
    if _previous is None:
        del os.environ["DJANGO_SETTINGS_MODULE"]
    else:
        os.environ["DJANGO_SETTINGS_MODULE"] = _previous
