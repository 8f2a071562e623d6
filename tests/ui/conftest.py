"""Registers the ``ui`` marker (browser tests; ``-m "not ui"`` skips them)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ui: web UI tests in headless Chromium (Playwright)")
