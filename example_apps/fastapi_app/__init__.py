"""Clip Studio on FastAPI: ``python -m example_apps.fastapi_app`` (see ``app.py``)."""

from example_apps.fastapi_app.app import create_app

__all__ = ["create_app"]
