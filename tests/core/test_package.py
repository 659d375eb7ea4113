"""The package's public names are what they say, whatever was imported first."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


def test_paid_is_the_decorator_even_after_its_module_was_imported() -> None:
    # A FastAPI app imports focus_middleware.fastapi (which imports the module of the paid
    # decorator) and then the @paid decorator: it must get the decorator, from the package
    # and from the ASGI adapter alike, and the module stays reachable under its own name.
    script = (
        "import focus_middleware.fastapi\n"
        "from focus_middleware import paid\n"
        "from focus_middleware.asgi.paid_endpoints import open_job, paid as decorator\n"
        "import focus_middleware.asgi, focus_middleware.asgi.paid_endpoints as module\n"
        "assert paid is decorator and focus_middleware.asgi.paid is decorator, paid\n"
        "assert module.paid is decorator and callable(open_job)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("module", "old", "new"), [
    ("focus_middleware.jobs", "PaidJob", "FocusJob"),
    ("focus_middleware.asgi", "current_job", "focus_job"),
    ("focus_middleware.asgi.paid_endpoints", "current_job", "focus_job"),
    ("flask_focus", "PaidJob", "FocusJob"),
    ("django_focus.paid", "current_job", "focus_job"),
    ("django_focus.paid", "shielded", "await_despite_cancel"),
])
def test_a_renamed_name_still_works_and_warns_with_the_new_one(module: str, old: str, new: str) -> None:
    imported = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=rf"{module}\.{old} is deprecated; use {module}\.{new}"):
        value = getattr(imported, old)
    assert value is getattr(imported, new)
    with pytest.raises(AttributeError):
        imported.no_such_name  # noqa: B018
