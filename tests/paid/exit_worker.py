"""A process that serves one paid request without a lifespan, then exits.

``python -m tests.paid.exit_worker <focus url> <pat>``: Focus fails the settlement (the
parent test arranged it), so it is kept; the process then ends with no lifespan shutdown,
and only the ``atexit`` drain can deliver it. Prints how many settlements were kept.
"""

from __future__ import annotations

import sys

import anyio
import httpx

from focus_middleware import FocusConfig
from tests.paid import apps

ORIGIN = "http://127.0.0.1:8000"


async def main(api_url: str, pat: str) -> None:
    config = FocusConfig(api_url=api_url, app="video", public_origin=ORIGIN, max_retries=0, timeout=5.0)
    app = apps.paid_app(config)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        r = await client.post("/render?cost=2", headers={"authorization": f"Bearer {pat}", "accept": "application/json"})
    print(r.status_code, len(apps.middleware_of(app).jobs.pending), flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2])
