"""Clip Studio, one small Focus app per framework, each runnable against the emulator.

- ``python -m example_apps.fastapi_app``: FastAPI (the ``focus demo`` default)
- ``python -m example_apps.flask_app``: Flask with Flask-Focus
- ``python -m example_apps.django_app``: a tiny Django project with django-focus

Every app reads ``FOCUS_*`` from the environment, with the demo's values as defaults
(:mod:`example_apps.common`), and serves on 127.0.0.1:8000 unless told otherwise.
"""
