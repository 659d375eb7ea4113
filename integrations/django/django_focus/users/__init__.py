"""Focus accounts as Django users (opt-in): add ``"django_focus.users"`` to
``INSTALLED_APPS`` and set ``FOCUS["link_users"] = True``.

Each Focus account is linked to one ``AUTH_USER_MODEL`` row (:class:`~django_focus.users.models.FocusLink`),
created the first time the account is seen and keyed by its Clerk user id only: an
existing row is never adopted by email (whoever controls that address on Focus would be
handed the row). The row's email and name follow the session token's claims
(``FOCUS["user_claims"]``); ``is_staff`` comes from ``FOCUS["staff"]`` or the
``focus_staff`` management command, never from Focus.

``request.user`` is derived from the Focus credential on every request by
:class:`~django_focus.users.middleware.FocusAuthenticationMiddleware` (in place of
Django's ``AuthenticationMiddleware``), through
:class:`~django_focus.users.backends.FocusBackend`: no ``login()``, so no Django session
outlives a Focus sign-out. The app's one table exists only where the app is installed.

Nothing is imported here: Django loads this package before its settings are ready.
"""
