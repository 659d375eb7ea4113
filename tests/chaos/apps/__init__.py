"""One small paid app per framework, written as its users write one, for the chaos suite.

Every app has the same paid routes (estimate 5 credits each), steered by the query:

- ``/render?ref=R&cost=C&sleep=S``: works ``S`` seconds, charges ``C``, answers ``ok R END``;
- ``/boom?ref=R``: raises after the reservation;
- ``/stream?ref=R&chunks=N&slow=S``: ``N`` chunks ``S`` seconds apart, then ``R END``;
- ``/file?ref=R``: the payload file (``CHAOS_FILE``) as the framework's file response.

Each handler puts ``ref`` into the job's metadata, so the books can be matched with what
each client received.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ESTIMATE = 5
PAYLOAD_SIZE = 256 * 1024  # several chunks for every server's file sending


def payload_path() -> Path:
    """The file the ``/file`` routes send; written once, the same for every app.

    Threaded servers run several first requests at once, so each writer takes its own
    temporary name (a per-process name raced: one thread's rename took the other's file)
    and the rename makes only a whole file visible.
    """
    path = Path(os.environ.get("CHAOS_FILE", "/tmp/focus-chaos-payload.txt"))
    if not path.exists() or path.stat().st_size != PAYLOAD_SIZE:
        line = b"0123456789abcdef" * 4 + b"\n"  # 65 bytes
        body = (line * (PAYLOAD_SIZE // len(line) + 1))[: PAYLOAD_SIZE - 4] + b"END\n"
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        os.replace(tmp, path)
    return path
