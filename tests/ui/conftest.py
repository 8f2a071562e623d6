"""Registers the ``ui`` marker (browser tests; ``-m "not ui"`` skips them) and the browser every UI module shares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ui.harness import CHROMIUM, CHROMIUM_ARGS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ui: web UI tests in headless Chromium (Playwright)")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
