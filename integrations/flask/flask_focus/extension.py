"""``Focus``: the Flask extension, in Flask-Login's shape.

``Focus(app)`` or ``focus = Focus(); focus.init_app(app)`` (one extension object may serve
several apps, each with its own configuration). ``init_app``:

- reads the app's ``FOCUS_*`` keys into a :class:`~focus_middleware.config.FocusConfig`
  (the same names as the environment variables), failing at once with an error that names
  the key;
- wraps ``app.wsgi_app`` in the WSGI engine (:class:`~focus_middleware.wsgi.FocusWSGIMiddleware`
  without its endpoints): it builds each request's facts, resolves the account when first
  asked, adds the cache headers, and settles paid jobs, which only the outermost wrapper
  can do, since only it sees whether the whole body went out;
- registers the ``focus`` blueprint (the endpoints; the engine answers the return trip
  from sign-in before Flask runs), the request and ``g`` properties, and
  ``current_account`` for templates.

The guards are methods of the extension (``@focus.login_required``,
``@focus.require_credits(5)``, ``@focus.paid(...)``) and work on sync and async views, in
apps and blueprints; ``focus.protect_blueprint(bp)`` guards every view of a blueprint.
They only ask the core and turn its answer into a Flask response.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, overload

from flask import Blueprint, Flask
from flask.typing import ResponseReturnValue

from focus_middleware.jinja import focus_idempotency_field
from focus_middleware.access import ACCOUNT, Requirement, requirement_for
from focus_middleware.config import ConfigError, FocusConfig, settings_from_prefixed
from focus_middleware.jobs import PaidRoute, UndeliveredHook
from focus_middleware.resolver import Resolver
from focus_middleware.responses import ResponseSpec
from focus_middleware.wsgi import FocusWSGIMiddleware

from flask_focus.blueprint import endpoints_blueprint
from flask_focus.context import current_account, with_globals_mixin, with_request_mixin
from flask_focus.pages import InsufficientCreditsHandler, insufficient_credits_page
from flask_focus.state import EXTENSION_KEY, FocusState, current_context, current_state

P = ParamSpec("P")

EXTENSION_SETTINGS = frozenset({"FOCUS_SIGNIN_VIEW", "FOCUS_CLOCK"})
"""``FOCUS_*`` keys of the extension itself, not of :class:`FocusConfig`: the sign-in view,
and a clock object (tests)."""


def config_from_app(app: Flask) -> FocusConfig:
    """The app's ``FOCUS_*`` keys as a :class:`FocusConfig`; a bad or unknown key fails
    with a :class:`ConfigError` naming that key as the app spells it."""
    values = {k: v for k, v in app.config.items() if k.startswith("FOCUS_") and k not in EXTENSION_SETTINGS}
    try:
        settings = settings_from_prefixed(values, "FOCUS_", strict=True)
        clock = app.config.get("FOCUS_CLOCK")
        return FocusConfig.from_mapping(settings, **({"clock": clock} if clock is not None else {}))
    except ConfigError as error:
        key = error.setting if error.setting.startswith("FOCUS_") else f"FOCUS_{error.setting.upper()}"
        problem = str(error).partition(": ")[2]
        raise ConfigError(key, problem) from None


class Focus:
    """The Flask extension; see the module docstring.

    ``config`` replaces the app's ``FOCUS_*`` keys with a ready configuration (for every
    app this extension is set up on); ``resolver`` shares a resolver's caches.
    ``signin_view`` is the endpoint of the app's own sign-in page (``FOCUS_SIGNIN_VIEW``
    per app wins), like Flask-Login's ``login_view``: navigations without a session are
    sent there with ``next``, and its button links to ``url_for("focus.signin", next=...)``.
    ``on_undelivered`` hears of every settlement kept for a later retry.
    """

    def __init__(self, app: Flask | None = None, *, config: FocusConfig | None = None,
                 resolver: Resolver | None = None, signin_view: str | None = None,
                 on_undelivered: UndeliveredHook | None = None) -> None:
        self.config = config
        self.resolver = resolver
        self.signin_view = signin_view
        self.on_undelivered = on_undelivered
        self._insufficient_credits_handler: InsufficientCreditsHandler | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("Flask-Focus is already set up on this app")
        config = self.config or (self.resolver.config if self.resolver is not None else config_from_app(app))
        engine = FocusWSGIMiddleware(app.wsgi_app, config=config, resolver=self.resolver, endpoints=False,
                                     on_undelivered=self.on_undelivered)
        state = FocusState(self, engine, app.config.get("FOCUS_SIGNIN_VIEW"))
        state.page = insufficient_credits_page(lambda: self._insufficient_credits_handler)
        engine.insufficient_credits_page = state.page
        app.extensions[EXTENSION_KEY] = state
        app.wsgi_app = engine  # type: ignore[method-assign]
        app.request_class = with_request_mixin(app.request_class, engine)
        app.app_ctx_globals_class = with_globals_mixin(app.app_ctx_globals_class)
        app.register_blueprint(endpoints_blueprint())
        app.context_processor(lambda: {"current_account": current_account})
        app.add_template_global(focus_idempotency_field)  # {{ focus_idempotency_field() }} in paid forms

    # -- hooks ---------------------------------------------------------------------------------

    def insufficient_credits_handler(self, handler: InsufficientCreditsHandler) -> InsufficientCreditsHandler:
        """Register the function that renders the 402 page for navigations (it receives
        :class:`~focus_middleware.responses.InsufficientCredits`; API calls keep the JSON)."""
        self._insufficient_credits_handler = handler
        return handler

    # -- guards --------------------------------------------------------------------------------

    @overload
    def login_required(self, func: Callable[P, Any], /) -> Callable[P, Any]: ...
    @overload
    def login_required(self, func: None = None, /) -> Callable[[Callable[P, Any]], Callable[P, Any]]: ...

    def login_required(self, func: Callable[P, Any] | None = None, /) -> Any:
        """The view runs only for a request with a Focus account (``@focus.login_required``
        or ``@focus.login_required()``)."""
        if func is None:
            return lambda f: self._guard(f, ACCOUNT)
        return self._guard(func, ACCOUNT)

    require_account = login_required

    def require_credits(self, credits: int, *, action: str | None = None) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
        """The view runs only if the account's cached wallet holds at least ``credits`` (a
        soft check: ``paid`` reservations stay the authority). ``action`` names the work
        in the 402 (default: the view's name)."""
        requirement_for(credits=credits)  # a bad number fails at decoration

        def decorate(func: Callable[P, Any]) -> Callable[P, Any]:
            return self._guard(func, requirement_for(func, credits=credits, action=action))

        return decorate

    def paid(self, *, action: str, cost_estimate: int, app: str | None = None, description: str | None = None,
             label: str | None = None, usual_cost: int | None = None,
             max_cost: int | None = None, result_url: str | Callable[[str], str] | None = None,
             ) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
        """A paid view: ``cost_estimate`` credits are reserved before it runs (a 402 purchase
        prompt instead, and the view never runs); ``request.focus_job`` is the job (set
        ``actual_cost``, ``metadata``). The actual cost is charged once the whole response
        went out (a ``stream_with_context`` body after its last chunk); an exception,
        ``abort(4xx)``, any status >= 400 or a client that left early refunds. With an
        idempotency key (``Idempotency-Key`` or the hidden field of ``focus_idempotency_field()``
        in a template) a repeat is answered without charging again (see the core's
        ``focus_middleware.idempotency``); ``max_cost`` caps the charge."""
        route = PaidRoute(action=action, cost_estimate=cost_estimate, app=app, description=description, label=label,
                          usual_cost=usual_cost, max_cost=max_cost, result_url=result_url)

        def decorate(func: Callable[P, Any]) -> Callable[P, Any]:
            if inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def paid_async(*args: Any, **kwargs: Any) -> Any:
                    refused = _open(route)
                    if refused is not None:
                        return refused
                    try:
                        return await func(*args, **kwargs)
                    except BaseException as error:
                        current_context().raised = error
                        raise

                return paid_async

            @functools.wraps(func)
            def paid_view(*args: Any, **kwargs: Any) -> Any:
                refused = _open(route)
                if refused is not None:
                    return refused
                try:
                    return func(*args, **kwargs)
                except BaseException as error:
                    current_context().raised = error
                    raise

            return paid_view

        return decorate

    def protect_blueprint(self, blueprint: Blueprint, *, credits: int | None = None, action: str | None = None) -> None:
        """Guard every view of ``blueprint`` (an account; with ``credits``, that many)."""
        requirement = requirement_for(blueprint.name, credits=credits, action=action)

        def focus_guard() -> ResponseReturnValue | None:
            return _refusal(requirement)

        blueprint.before_request(focus_guard)

    def _guard(self, func: Callable[P, Any], requirement: Requirement) -> Callable[P, Any]:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                refused = _refusal(requirement)
                return refused if refused is not None else await func(*args, **kwargs)

            return guarded_async

        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            refused = _refusal(requirement)
            return refused if refused is not None else func(*args, **kwargs)

        return guarded


def _refusal(requirement: Requirement) -> ResponseReturnValue | None:
    ctx = current_context()
    if ctx.admits(requirement):
        return None  # the common case: no sign-in URL or 402 page to prepare
    state = current_state()
    spec = ctx.check(requirement, page=state.page, signin_page=state.signin_page())
    return None if spec is None else state.response(spec)


def _open(route: PaidRoute) -> ResponseReturnValue | None:
    state = current_state()
    opened = current_context().open_job(route, page=state.page, signin_page=state.signin_page())
    return state.response(opened) if isinstance(opened, ResponseSpec) else None


__all__ = ["EXTENSION_SETTINGS", "Focus", "config_from_app"]
