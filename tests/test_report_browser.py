"""report.html in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

Checks what only a browser can: the inline plots decode, the trace viewer renders steps, the
search filters records and highlights the matching step, and a ``<script>`` inside a trace
never runs. Skipped when Playwright or Chromium is not installed (``pip install playwright``,
``apt-get install chromium``; never ``playwright install``: the system browser is used).
"""

import os
import shutil

import pytest
from report_fixtures import EVIL, make_sweep

from leancot.report.config import ReportConfig
from leancot.report.stage import run

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
CHROMIUM = os.environ.get("LEANCOT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no chromium executable (apt-get install chromium)", allow_module_level=True)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def report_url(tmp_path_factory, smollm2_tokenizer_dir):
    root = tmp_path_factory.mktemp("browser_report")
    path = run(ReportConfig(runs=make_sweep(root), out=root / "report"))
    return path.resolve().as_uri()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, report_url):
    """The report opened from disk; page errors and any request that is not the file itself are recorded."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.errors, page.requests = [], []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto(report_url)
    yield page
    page.close()


def test_plots_and_viewer_render(page, tmp_path):
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    widths = page.eval_on_selector_all("figure img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == 7 and all(w > 0 for w in widths)  # six plots (the budget curves too) and the answer-position histogram
    assert page.locator("#trace-original .step").count() > 0
    assert page.locator("#trace-pruned .step").count() > 0
    assert page.locator("#trace-count").inner_text() == "3 of 3 records"
    assert page.errors == []
    assert [u for u in page.requests if not u.startswith("file://") and not u.startswith("data:")] == []


def test_search_highlights_the_matching_step_and_hides_other_records(page):
    page.fill("#trace-search", "Pelican")
    hit = page.locator("#trace-original .step.hit")
    assert hit.count() == 1 and hit.first.is_visible()
    assert "pelican" in hit.first.inner_text()
    assert page.locator("#trace-original mark").first.inner_text() == "pelican"
    assert page.locator('#trace-list li[data-id="apples-1"]').is_visible()
    assert page.locator('#trace-list li[data-id="trains-2"]').is_hidden()
    assert page.locator("#trace-count").inner_text() == "1 of 3 records match"


def test_search_by_skill_and_no_match(page):
    page.fill("#trace-search", "verification")
    assert page.locator("#trace-original .step.hit .skill").first.inner_text() == "verification"
    assert page.locator('#trace-list li[data-id="evil-3"]').is_hidden()  # it has no verification step
    page.fill("#trace-search", "no such text anywhere")
    assert page.locator("#trace-list li:visible").count() == 0
    assert "No record matches" in page.locator("#trace-head").inner_text()
    page.fill("#trace-search", "")
    assert page.locator("#trace-list li:visible").count() == 3


def test_a_script_in_a_trace_does_not_run(page):
    page.locator('#trace-list li[data-id="evil-3"] button').click()
    assert EVIL in page.locator("#trace-head .question").inner_text()  # shown as text
    assert EVIL in page.locator("#trace-original .step").first.inner_text()
    page.wait_for_timeout(200)  # give an injected onerror handler its chance
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#trace-detail script, #trace-detail img").count() == 0
    assert page.errors == []
