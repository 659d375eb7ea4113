"""Subscribers that turn :mod:`focus_middleware.events` into an operator's telemetry:
:mod:`.logging` (Python logging, no dependency) and :mod:`.otel` (OpenTelemetry, the
``focus-middleware[otel]`` extra). Each is one line of configuration."""
