"""Clip Studio on Django, a tiny project with django-focus: ``python -m example_apps.django_app``
(settings in ``settings.py``, views in ``views.py``)."""
