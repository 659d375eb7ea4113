"""Pytest fixtures for testing against a local Focus emulator.

Registered through the ``pytest11`` entry point, so it is loaded in every test session of
every project that installs focus-middleware: it must import nothing heavy at module
level (the emulator is imported inside the fixtures).
"""

from __future__ import annotations
