from __future__ import annotations

import sys

from bench import asgi_bench, django_bench, events_bench, fastapi_bench, multiprocess_bench, resolver_bench, wsgi_bench


def main() -> int:
    print(resolver_bench.run())
    print()
    print(events_bench.run())
    print()
    print(asgi_bench.run())
    print()
    print(fastapi_bench.run())
    print()
    print(wsgi_bench.run())
    print()
    print(django_bench.run())
    print()
    print(multiprocess_bench.run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
