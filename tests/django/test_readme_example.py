"""The README's testing example, as written (the pytest plugin's focus_emulator fixture)."""

from __future__ import annotations

from typing import Any

from django_focus.testing import emulator_settings, force_focus_login


def test_the_readme_example(client: Any, settings: Any, focus_emulator: Any) -> None:
    settings.FOCUS = emulator_settings(focus_emulator, app="video", public_origin="http://testserver")
    user = focus_emulator.create_user(credits=10)
    force_focus_login(client, user)
    assert client.post("/render").status_code == 200
    [job] = focus_emulator.jobs(user, status="completed")
    assert job["actual_cost"] == 5
