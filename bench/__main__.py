from __future__ import annotations

import sys

from bench import resolver_bench


def main() -> int:
    print(resolver_bench.run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
