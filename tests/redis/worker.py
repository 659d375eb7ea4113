"""One worker process of an app: a resolver (sync or async) driven by JSON lines on stdin.

``python -m tests.redis.worker '<settings json>'``; settings are FocusConfig fields plus
``"async": true`` for the AsyncResolver. Prints ``{"ready": true}`` once its resolver (and
so its invalidation subscription) is up, then answers one line per command:

- ``{"op": "resolve", "bearer": TOKEN, "n": N}``: N concurrent resolves (threads, or tasks),
  answered with one summary per resolve (no token in it);
- ``{"op": "forget", "clerk_id": ID}``: forget the user's wallet (as after a paid job);
- ``{"op": "exit"}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from typing import Any

from focus_middleware.config import FocusConfig
from focus_middleware.facts import RequestFacts
from focus_middleware.outcome import Authenticated, Outcome
from focus_middleware.resolver import AsyncResolver, Resolver


def facts(token: str) -> RequestFacts:
    return RequestFacts(method="GET", path="/", headers={"authorization": f"Bearer {token}"}, cookies={},
                        host="127.0.0.1:8000")


def summary(outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, Authenticated):
        return {"kind": "Authenticated", "clerk_id": outcome.account.clerk_id, "credits": outcome.account.credits,
                "stale": outcome.account.stale}
    return {"kind": type(outcome).__name__, "reason": getattr(outcome, "reason", None)}


def reply(value: Any) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def run_sync(config: FocusConfig) -> None:
    resolver = Resolver(config)
    reply({"ready": True})
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "exit":
            break
        if op == "forget":
            resolver.forget_wallet(command["clerk_id"])
            reply({"ok": True})
        elif op == "resolve":
            n = int(command.get("n", 1))
            results: list[dict[str, Any]] = [{}] * n
            barrier = threading.Barrier(n)

            def one(i: int, token: str = command["bearer"]) -> None:
                barrier.wait()
                results[i] = summary(resolver.resolve(facts(token)))

            threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            reply(results)
    resolver.close()


async def run_async(config: FocusConfig) -> None:
    resolver = AsyncResolver(config)
    loop = asyncio.get_running_loop()
    reply({"ready": True})
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        op = command["op"]
        if op == "exit":
            break
        if op == "forget":
            await resolver.aforget_wallet(command["clerk_id"])
            reply({"ok": True})
        elif op == "resolve":
            n = int(command.get("n", 1))
            outcomes = await asyncio.gather(*(resolver.resolve(facts(command["bearer"])) for _ in range(n)))
            reply([summary(o) for o in outcomes])
    await resolver.aclose()


def main() -> None:
    settings = json.loads(sys.argv[1])
    use_async = settings.pop("async", False)
    settings.pop("index", None)
    config = FocusConfig(**settings)
    if use_async:
        asyncio.run(run_async(config))
    else:
        run_sync(config)


if __name__ == "__main__":
    main()
