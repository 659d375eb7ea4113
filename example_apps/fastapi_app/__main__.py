"""``python -m example_apps.fastapi_app [--host H] [--port P]``: serve Clip Studio with uvicorn."""

from __future__ import annotations

import uvicorn

from example_apps.common import banner, focus_config, parse_server_args
from example_apps.fastapi_app.app import create_app


def main() -> None:
    server = parse_server_args("Clip Studio, a Focus app on FastAPI")
    config = focus_config(server)
    print(banner("FastAPI", server, config), flush=True)
    uvicorn.run(create_app(config), host=server.host, port=server.port, log_level="warning")


if __name__ == "__main__":
    main()
