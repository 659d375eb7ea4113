"""The whole-suite secret check (tests/secret_watch.py) finds what it must and only that."""

from __future__ import annotations

from focus_middleware.testing import FocusEmulator
from tests.secret_watch import leaks


def test_a_minted_token_in_a_line_is_found_and_a_redacted_one_is_not(emu: FocusEmulator) -> None:
    user = emu.create_user()
    jwt, pat = user.session_jwt(), user.pat()
    seen = {jwt, pat, pat[len("focus_pat_"):]}
    assert leaks([("log x", f"GET /?next=1 Bearer {jwt}")], seen) == ["log x: a minted credential"]
    assert leaks([("log x", f"cookie focus_session={pat};")], seen) == ["log x: a minted credential"]
    assert leaks([("log x", "GET /back?token=abcdefghijklmnopqrstuvwxyz HTTP/1.1")], seen) == ["log x: a ?token= value"]
    assert leaks([("log x", f"GET /back?token=[redacted] [{pat[:12]}]")], seen) == []
