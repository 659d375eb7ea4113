"""``python -m tests.wsgi.exit_worker <focus url> <pat>``: a WSGI process that answers one
paid request while Focus fails the settlement, then exits without closing anything: only
the ``atexit`` drain can deliver it. Prints the status and how many settlements were kept."""

from __future__ import annotations

import sys

from werkzeug.test import Client

from focus_middleware import FocusConfig
from tests.wsgi.conftest import make_app

ORIGIN = "http://127.0.0.1:8000"


def main(api_url: str, pat: str) -> None:
    app = make_app(FocusConfig(api_url=api_url, app="video", public_origin=ORIGIN, max_retries=0, timeout=5.0))
    r = Client(app).post("/render?cost=2", headers={"authorization": f"Bearer {pat}", "accept": "application/json"},
                         buffered=True)
    print(r.status_code, len(app.paid_jobs.pending), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
