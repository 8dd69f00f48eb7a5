"""The HTML transparency report in real Chromium: it renders with every chart drawn, fetches
nothing, and runs into no Content-Security-Policy violation.

The page is the scripted half-year of tests/unit/transparency/scripted.py, loaded with
``page.set_content`` (no server, no network). Screenshots go to test-artifacts/report/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lexloci.transparency import Banding, compute_report, parse_period, render
from tests.unit.transparency.scripted import Script, run_script

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"
CHARTS = (
    "chart-requests-by-country",
    "chart-outcomes-by-country",
    "chart-outcomes",
    "chart-participants-by-country",
)


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Script]:
    scripted = run_script(tmp_path_factory.mktemp("scripted"))
    yield scripted
    scripted.container.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium through Playwright; skipped when either is missing (a failure under CI)."""
    if not (Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian package chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright==1.65.2)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


def page_of(script: Script, banding: Banding | None = None) -> str:
    log = script.container.audit_log
    report = compute_report(
        log, parse_period("2026-H2"), log.checkpoint(), generated_at=script.clock.now(),
        banding=banding,
    )  # fmt: skip
    return render(report, "html")


def open_page(browser: Any, html: str) -> tuple[Any, list[str], list[str]]:
    """The page, the URLs it requested, and the console errors it logged."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.set_content(html, wait_until="load")
    return page, requests, errors


def bars(page: Any, chart: str) -> list[dict[str, float]]:
    boxes = []
    for rect in page.locator(f"#{chart} svg rect.bar").all():
        box = rect.bounding_box()
        assert box is not None, f"a bar of {chart} is not laid out"
        boxes.append(box)
    return boxes


def test_the_report_page_draws_every_chart_and_fetches_nothing(
    browser: Any, script: Script
) -> None:
    page, requests, errors = open_page(browser, page_of(script))
    try:
        for chart in CHARTS:
            drawn = bars(page, chart)
            assert len(drawn) >= 2, chart
            assert all(box["width"] >= 1 and box["height"] > 10 for box in drawn), chart
        # Requests by country: CN 5, DE 2, US 2; the longest bar is CN's, the others equal.
        widths = [box["width"] for box in bars(page, "chart-requests-by-country")]
        assert widths[0] > widths[1] == widths[2] > 0
        colours = page.eval_on_selector_all(
            "#chart-outcomes svg rect.bar", "rects => rects.map(r => getComputedStyle(r).fill)"
        )
        assert colours == ["rgb(46, 125, 50)", "rgb(224, 161, 0)", "rgb(198, 40, 40)"]
        assert page.locator("#tables table").count() == 11
        assert page.locator("#checkpoint dd").nth(1).inner_text() == str(
            script.container.audit_log.checkpoint().size
        )
        assert [url for url in requests if not url.startswith(("about:", "data:"))] == []
        assert errors == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-page.png"), full_page=True)
        page.locator("#charts").screenshot(path=str(ARTIFACTS / "report-charts.png"))
    finally:
        page.close()


def test_banded_bars_are_drawn_hatched_to_the_top_of_their_band(
    browser: Any, script: Script
) -> None:
    page, _, errors = open_page(browser, page_of(script, Banding(3)))
    try:
        drawn = page.eval_on_selector_all(
            "#chart-requests-by-country svg rect.bar",
            """rects => rects.map(r => ({
                banded: r.classList.contains('banded'),
                width: r.getBoundingClientRect().width,
                opacity: getComputedStyle(r).fillOpacity,
            }))""",
        )
        assert [bar["banded"] for bar in drawn] == [False, True, True]
        cn, de, _ = (bar["width"] for bar in drawn)
        assert de == pytest.approx(cn * 2 / 5, abs=1.5)  # "1-2" is drawn to 2, next to CN's 5
        assert drawn[1]["opacity"] == "0.3"
        labels = page.locator("#chart-requests-by-country svg text.value").all_text_contents()
        assert labels == ["5", "1-2", "1-2"]
        assert errors == []
        page.locator("#charts").screenshot(path=str(ARTIFACTS / "report-charts-banded.png"))
    finally:
        page.close()
