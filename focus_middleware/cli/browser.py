"""Whether ``focus login`` should open a browser, and opening it.

Opening is a convenience; printing the URL is the contract. So we only try where a
graphical browser can plausibly appear on the screen of the person at the keyboard:
never in CI, never over SSH (the browser would open on the remote machine, or
``webbrowser`` would fall back to a console browser such as lynx and take over the
terminal we are drawing in), and on Linux and the BSDs only with an X11 or Wayland
display. ``--no-browser`` says the same explicitly.
"""

from __future__ import annotations

import os
import sys
import webbrowser
from collections.abc import Mapping

_FALSE = ("", "0", "false", "no", "off")


def headless_reason(environ: Mapping[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why no browser should be opened here (``"CI"``, ``"an SSH session"``, ``"no
    display"``), or None when one may be."""
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    if env.get("CI", "").strip().lower() not in _FALSE:
        return "CI"
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return "an SSH session"
    graphical_without_display = plat.startswith(("darwin", "win32", "cygwin"))
    if not graphical_without_display and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return "no display"
    return None


def open_browser(url: str) -> bool:
    """Ask the system to open ``url`` in a new tab; False when nothing would."""
    try:
        return webbrowser.open(url, new=2)
    except Exception:  # webbrowser.Error, or a broken $BROWSER
        return False
