"""What the three Clip Studio apps share: where they run, their Focus settings, and the
pretend video renderer. Everything about Focus itself is in each app, as its framework
spells it.

Settings come from the environment, with the values ``focus demo`` uses as defaults, so
each app runs against the demo's emulator with no setup at all:

==========================  =====================================================
``FOCUS_API_URL``           the Focus service (demo: the emulator, ``http://localhost:8787``)
``FOCUS_ISSUER``            the session tokens' issuer (default: ``FOCUS_API_URL``, as the
                            emulator issues them itself)
``FOCUS_APP``               the app's slug on Focus (``clip-studio``)
``FOCUS_PUBLIC_ORIGIN``     where browsers reach the app (``http://<host>:<port>``)
``FOCUS_APP_NAME``          what the core's pages call the app (``Clip Studio``)
==========================  =====================================================

Any other ``FOCUS_*`` variable (``FOCUS_CACHE_URL``, ``FOCUS_MIN_TOKEN_LIFE``...) is read
too: see the configuration reference in the README.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from focus_middleware import FocusConfig
from focus_middleware.config import settings_from_prefixed

APP_NAME = "Clip Studio"
DEMO_API_URL = "http://localhost:8787"
DEMO_APP = "clip-studio"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

RENDER_LABEL = "Preview render"
"""What the 402 page calls a render (its job's action is the slug ``render``)."""
RENDER_ESTIMATE = 5
"""Credits reserved for a render before it starts."""
RENDER_COST = 3
"""What a preview render actually costs: the job is settled with this, the rest returned."""
STREAM_ESTIMATE = 5
STREAM_COST = 4
"""The streamed render shows its progress and costs a little more."""


# -- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"


def parse_server_args(description: str, argv: list[str] | None = None) -> Server:
    """``--host`` and ``--port`` of ``python -m example_apps.<app>``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default=os.environ.get("HOST", DEFAULT_HOST),
                        help=f"address to serve on (default $HOST or {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)),
                        help=f"port (default $PORT or {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    return Server(args.host, args.port)


def focus_settings(server: Server | None = None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every ``FOCUS_*`` setting in the environment, keyed by ``FocusConfig`` field name
    (``FOCUS_API_URL`` is ``api_url``), with the demo's values for the four an app needs, and Clip Studio's ``min_token_life``."""
    settings: dict[str, str] = settings_from_prefixed(os.environ if environ is None else environ, strict=False)
    server = server or Server(DEFAULT_HOST, DEFAULT_PORT)
    settings.setdefault("api_url", DEMO_API_URL)
    settings.setdefault("issuer", settings["api_url"])
    settings.setdefault("app", DEMO_APP)
    settings.setdefault("public_origin", server.origin)
    # A render takes seconds, so a session token with 10 s left can still settle one (the
    # default asks 30 s): fewer paid clicks are sent to renew the session first.
    settings.setdefault("min_token_life", "10")
    # What the core's pages (402, 403, 503, signed out) call the app, and the emulator's
    # billing page's parameter for how many more credits a person needs.
    settings.setdefault("app_name", APP_NAME)
    settings.setdefault("purchase_need_param", "need")
    return settings


def flask_settings(settings: Mapping[str, str]) -> dict[str, str]:
    """The same settings as Flask's ``app.config`` keys (``FOCUS_API_URL``...)."""
    return {f"FOCUS_{name.upper()}": value for name, value in settings.items()}


def focus_config(server: Server | None = None, environ: Mapping[str, str] | None = None) -> FocusConfig:
    """The app's :class:`FocusConfig` (for the adapters configured by object)."""
    return FocusConfig.from_mapping(focus_settings(server, environ))


def banner(framework: str, server: Server, config: FocusConfig) -> str:
    return (f"{APP_NAME} ({framework}) on {server.origin}/\n"
            f"  Focus: {config.api_url}  app: {config.app}  public origin: {config.public_origin}")


# -- the pretend renderer ----------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """A rendered preview: what the job's metadata and the result page show."""

    title: str
    job_id: str
    url: str
    frames: int
    cost: int

    @property
    def description(self) -> str:
        return f"Preview render of \u201c{self.title}\u201d ({self.frames} frames)"


def clean_title(raw: object) -> str:
    """A title from a form or JSON body: text, trimmed, at most 80 characters."""
    title = re.sub(r"\s+", " ", raw if isinstance(raw, str) else "").strip()[:80]
    return title or "Untitled clip"


def render_preview(title: str, job_id: str, origin: str, *, cost: int = RENDER_COST, frames: int = 24) -> Preview:
    """"Render" a preview of a clip. The real work would happen here; the Focus job
    around it reserved the credits already, and charges ``cost`` once the answer is out."""
    return Preview(title=title, job_id=job_id, url=f"{origin}/previews/{job_id}.svg", frames=frames, cost=cost)


RESULT_PATH = "/renders/{job_id}"
"""The result page a paid form post redirects to (post/redirect/get): reloading it reads,
never posts again, and a form sent twice with the same key lands here too."""


@dataclass(frozen=True)
class Result:
    """A finished render, as its result page shows it (the balance right after it)."""

    clerk_id: str
    preview: Preview
    credits_left: int


class Results:
    """Finished renders by job id, for their result pages. In memory and bounded: a demo
    (a real app keeps its results in its own storage)."""

    def __init__(self, size: int = 1000) -> None:
        self._items: OrderedDict[str, Result] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def keep(self, clerk_id: str, preview: Preview, credits_left: int) -> str:
        """Remember a render; returns its result page's path."""
        with self._lock:
            self._items[preview.job_id] = Result(clerk_id, preview, credits_left)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return RESULT_PATH.replace("{job_id}", preview.job_id)

    def find(self, job_id: str, clerk_id: str) -> Result | None:
        """The render, only for the person who made it."""
        with self._lock:
            result = self._items.get(job_id)
        return result if result is not None and result.clerk_id == clerk_id else None


RESULTS = Results()


STREAM_FRAMES = 48


def render_steps(title: str) -> Iterator[str]:
    """The progress lines of the streamed render, each after a moment's work
    (``CLIP_STUDIO_STEP_SECONDS``, default 0.3 s)."""
    pause = float(os.environ.get("CLIP_STUDIO_STEP_SECONDS", "0.3"))
    lines = [f"Loading \u201c{title}\u201d",
             *(f"Rendering frames {(n - 1) * 12 + 1}\u2013{n * 12} of {STREAM_FRAMES}" for n in range(1, 5)),
             "Encoding the preview"]
    for line in lines:
        time.sleep(pause)
        yield line


PROGRESS = "<!-- progress -->"
"""Where a streamed page's progress lines go: the page is rendered whole, sent up to this
mark, then line by line, then the rest."""


def progress_item(line: str) -> str:
    return f"<li>{html.escape(line)}</li>\n"


def preview_svg(job_id: str) -> str:
    """The preview image: a colour band derived from the job id (no storage needed)."""
    digest = hashlib.sha256(job_id.encode()).hexdigest()
    a, b = f"#{digest[:6]}", f"#{digest[6:12]}"
    label = html.escape(job_id[:8])
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="180" viewBox="0 0 320 180">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="{a}"/>'
        f'<stop offset="1" stop-color="{b}"/></linearGradient></defs>'
        '<rect width="320" height="180" rx="12" fill="url(#g)"/>'
        '<polygon points="140,65 140,115 185,90" fill="#fff" opacity=".85"/>'
        f'<text x="16" y="166" font-family="monospace" font-size="14" fill="#fff">{label}</text></svg>'
    )


STYLE = """
:root { color-scheme: light; --ink: #1d1d1f; --muted: #5f6368; --accent: #5b3cc4; --line: #e3e3e8; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
       margin: 0; background: #f7f7fa; }
header { background: #fff; border-bottom: 1px solid var(--line); }
header .bar, main { max-width: 46rem; margin: 0 auto; padding: .8rem 1.2rem; }
header .bar { display: flex; align-items: center; gap: 1rem; }
header .brand { font-weight: 700; color: var(--accent); text-decoration: none; margin-right: auto; }
header form { margin: 0; }
h1 { font-size: 1.6rem; margin: 1.2rem 0 .6rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 12px; padding: 1rem 1.2rem;
        margin: 1rem 0; }
.stats { display: flex; gap: 2.5rem; flex-wrap: wrap; }
.stats div { color: var(--muted); font-size: .85rem; }
.stats strong { display: block; color: var(--ink); font-size: 1.6rem; }
.stats code { display: block; color: var(--ink); font-size: .85rem; margin-top: .4rem; }
label { display: block; font-size: .9rem; color: var(--muted); margin-bottom: .2rem; }
input[type=text] { font: inherit; width: 100%; padding: .45rem .6rem; border: 1px solid var(--line);
                   border-radius: 8px; }
button, a.button { font: inherit; display: inline-block; margin: .7rem .5rem 0 0; padding: .5rem 1rem;
                   border: 0; border-radius: 8px; background: var(--accent); color: #fff;
                   cursor: pointer; text-decoration: none; }
button.secondary, a.secondary { background: #ececf3; color: var(--ink); }
header button { margin: 0; padding: .35rem .8rem; }
.note { color: var(--muted); font-size: .9rem; }
ol.progress { padding-left: 2.8rem; }
ol.progress li { font-family: ui-monospace, monospace; font-size: .9rem; }
img.preview { border-radius: 12px; display: block; margin: .6rem 0; max-width: 100%; }
"""
"""The apps' small stylesheet, inlined in their pages."""
