"""gunicorn's configuration for test_access_logs.py: the README's one line, nothing else."""

from focus_middleware.logging import install

install("gunicorn.access", "gunicorn.error")
