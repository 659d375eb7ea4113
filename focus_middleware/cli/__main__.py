"""``python -m focus_middleware.cli``: the same as the ``focus`` script."""

from focus_middleware.cli import main

raise SystemExit(main())
