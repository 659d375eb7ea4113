"""One process of a Django project sharing a file-based cache with others.

``python -m tests.django.worker '<FOCUS json>' <cache dir> '<requests json>'``: sets the
project up with ``FOCUS`` (its ``cache_alias`` pointing at the file-based cache in
``cache dir``), makes each ``[method, path, bearer]`` request through Django's test client
and prints one JSON line per answer.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.django.settings"
    import django
    from django.conf import settings

    focus, cache_dir, requests = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    settings.CACHES = {**settings.CACHES, "shared": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": cache_dir}}
    settings.FOCUS = focus
    django.setup()
    from django.test import Client

    client = Client()
    for method, path, bearer in requests:
        r = client.generic(method, path, headers={"authorization": f"Bearer {bearer}", "accept": "application/json"})
        print(json.dumps({"status": r.status_code, "body": json.loads(r.content)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
