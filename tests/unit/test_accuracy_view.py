"""The web UI's accuracy view (frontend/src/pages/accuracy-view.js, run in node) for round reports whose accuracy or
baseline is null: a consortium on its own schema (the admin holds no records of it) and the party flow (no plain
FedAvg baseline) show "n/a", never 0.00%, and plot nothing they do not have."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from zkfl_dapp.config import REPO_ROOT

ZERO = re.compile(r"(?<![0-9])0\.00%")  # a missing figure shown as 0.00% (90.00% is not one)
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH")


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    script = REPO_ROOT / "tests" / "ui" / "accuracy_view_check.mjs"
    done = subprocess.run(["node", str(script)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def _cells(html: str, testid: str) -> list[str]:
    return re.findall(rf'data-testid="{testid}">([^<]*)<', html)


def test_reports_with_both_figures_are_plotted(pages: dict[str, str]) -> None:
    html = pages["measured"]
    assert _cells(html, "accuracy") == ["90.00%", "92.00%"] and _cells(html, "baseline") == ["91.00%", "93.00%"]
    assert html.count("<circle") == 2 and 'data-testid="baseline-line"' in html


def test_a_report_without_a_baseline_shows_na_and_draws_no_baseline(pages: dict[str, str]) -> None:
    html = pages["no_baseline"]
    assert _cells(html, "accuracy") == ["90.00%", "95.00%"] and _cells(html, "baseline") == ["n/a", "n/a"]
    assert 'data-testid="baseline-line"' not in html and "plain floating-point FedAvg baseline" not in html
    assert "NaN" not in html and not ZERO.search(html)


def test_an_own_schema_consortiums_reports_show_na_and_no_plot(pages: dict[str, str]) -> None:
    html = pages["own_schema"]
    assert _cells(html, "accuracy") == ["n/a", "n/a"] and _cells(html, "baseline") == ["n/a", "n/a"]
    assert 'data-testid="no-accuracy"' in html and "holds no records" in html
    assert 'data-testid="accuracy-plot"' not in html and not ZERO.search(html)


def test_no_report_at_all_is_the_empty_state(pages: dict[str, str]) -> None:
    assert 'data-testid="empty"' in pages["none"] and "round 1: unreadable" in pages["none"]
