"""Every adapter's guards build their requirement with the core's one builder, so a
402 names the work the same way whichever framework served it."""

from __future__ import annotations

import functools

import pytest

from focus_middleware.access import ACCOUNT, DEFAULT_ACTION, Requirement, action_name, requirement_for
from focus_middleware.jobs import PaidRoute


def render_video() -> None: ...


class Export_Report: ...


def test_the_action_is_the_guarded_callables_name_in_words() -> None:
    assert action_name(render_video) == "render video"
    assert action_name(Export_Report) == "Export Report"
    assert action_name("bulk_exports") == "bulk exports"  # a blueprint's name
    assert action_name(functools.partial(render_video)) == DEFAULT_ACTION
    assert action_name(None) == DEFAULT_ACTION


def test_a_credits_guard_names_its_work_unless_the_guard_did() -> None:
    assert requirement_for(render_video, credits=5) == Requirement("credits", 5, "render video")
    assert requirement_for(render_video, credits=5, action="Rendering") == Requirement("credits", 5, "Rendering")


def test_an_account_guard_and_a_paid_route() -> None:
    assert requirement_for(render_video) is ACCOUNT
    route = PaidRoute(action="render", cost_estimate=5)
    assert requirement_for(render_video, route=route) == Requirement("paid", 0, "render")


@pytest.mark.parametrize("credits", [-1, True, 1.5])
def test_a_bad_number_of_credits_fails_when_the_guard_is_built(credits: object) -> None:
    with pytest.raises(ValueError, match="credits must be a whole number"):
        requirement_for(credits=credits)  # type: ignore[arg-type]


def test_djangos_credits_requirement_still_works_and_names_the_builder() -> None:
    pytest.importorskip("django")
    from django_focus.decorators import credits_requirement

    with pytest.warns(DeprecationWarning, match="requirement_for"):
        built = credits_requirement(5, None, render_video)
    assert built == Requirement("credits", 5, "render video")
