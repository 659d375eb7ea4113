"""The package's public names are what they say, whatever was imported first."""

from __future__ import annotations

import subprocess
import sys


def test_paid_is_the_decorator_even_after_its_module_was_imported() -> None:
    # A FastAPI app imports focus_middleware.fastapi (which imports the submodule
    # focus_middleware.paid) and then the @paid decorator: it must get the decorator.
    script = (
        "import focus_middleware.fastapi\n"
        "from focus_middleware import paid\n"
        "from focus_middleware.paid import open_job, paid as decorator\n"
        "import focus_middleware\n"
        "assert paid is decorator and focus_middleware.paid is decorator, paid\n"
        "assert callable(open_job)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
