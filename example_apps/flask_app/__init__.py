"""Clip Studio on Flask: ``python -m example_apps.flask_app`` (see ``app.py``)."""

from example_apps.flask_app.app import create_app, focus

__all__ = ["create_app", "focus"]
