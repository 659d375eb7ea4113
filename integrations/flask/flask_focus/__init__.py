"""Flask-Focus: the Focus account platform for Flask apps.

``Focus(app)`` (or ``focus.init_app(app)``) and every request knows its Focus account, on
first asking: ``request.focus_account``, ``g.focus_account``, ``current_account`` (also in
templates). ``@focus.login_required``, ``@focus.require_credits(n)`` and
``@focus.paid(action=..., cost_estimate=...)`` guard views; ``request.focus_job`` is a paid
view's job. ``flask_focus.testing`` signs a test client in as an emulator user.
"""

from __future__ import annotations

from focus_middleware.deprecation import renamed
from focus_middleware.jobs import FocusJob
from focus_middleware.models import FocusAccount
from focus_middleware.preserve import no_form_keeping
from focus_middleware.responses import InsufficientCredits

from flask_focus.context import FocusGlobalsMixin, FocusRequestMixin, current_account
from flask_focus.extension import EXTENSION_SETTINGS, Focus, config_from_app
from flask_focus.state import FocusState, state_of

__all__ = [
    "EXTENSION_SETTINGS",
    "Focus",
    "FocusAccount",
    "FocusGlobalsMixin",
    "FocusJob",
    "FocusRequestMixin",
    "FocusState",
    "InsufficientCredits",
    "config_from_app",
    "current_account",
    "no_form_keeping",
    "state_of",
]
__version__ = "0.1.0"

__getattr__ = renamed(__name__, {"PaidJob": "FocusJob"}, globals())
