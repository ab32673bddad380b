"""The built course website in a real browser: headless Chromium driven by Playwright.

Runs after the site is built (`make test` builds it from the notebooks it has just run;
`make site` alone also works): $TOYHELPERS_SITE_DIR, default `_site/`. The site is served
on localhost and every request elsewhere is refused and counted as an error, so a page
that would need the network fails here. Chromium is Debian's (`/usr/bin/chromium`,
installed by `.ci/run`; $TOYHELPERS_CHROMIUM overrides): Playwright downloads nothing.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

from toyhelpers.lessons import LESSONS

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("TOYHELPERS_SITE_DIR", ROOT / "_site"))
CHROMIUM = os.environ.get("TOYHELPERS_CHROMIUM", "/usr/bin/chromium")
# Without the networking flags Chromium phones home at start and logs refused connections.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DONE = [lesson for lesson in LESSONS if lesson.status == "done"]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    if not (SITE / "index.html").exists():
        pytest.fail(f"no website in {SITE}: build it first (`make site`, or `make test`)")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's `chromium` (as .ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


class Visitor:
    """One browser page that records everything that went wrong on the pages it opened."""

    def __init__(self, browser, site_url: str) -> None:
        self.site_url = site_url
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.where = ""
        self.page.on("pageerror", lambda err: self.errors.append(f"{self.where}: {err}"))
        self.page.on("console", self._console)
        self.leaving = False
        self.page.on("requestfailed", self._request_failed)
        self.page.route("**/*", self._only_this_site)

    def _request_failed(self, request) -> None:
        # Leaving a page cancels what it still had in flight, as it does for a reader.
        if not (self.leaving and request.failure == "net::ERR_ABORTED"):
            self.errors.append(f"{self.where}: request failed: {request.url} ({request.failure})")

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"{self.where}: console error: {message.text}")

    def _only_this_site(self, route) -> None:
        if route.request.url.startswith(self.site_url):
            route.continue_()
        else:
            self.errors.append(f"{self.where}: asked the network for {route.request.url}")
            route.abort()

    def open(self, url: str) -> None:
        self.leaving = True
        self.where = url.removeprefix(self.site_url) or "index.html"
        response = self.page.goto(url, wait_until="load")
        self.leaving = False
        assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
        self.settle()

    def settle(self) -> None:
        """Wait until the page is as a reader sees it: loaded, formulas typeset."""
        # "networkidle" alone can come while the parser still runs plotly.js (4.8 MB).
        self.page.wait_for_load_state("load")
        self.page.wait_for_load_state("networkidle")
        # MathJax fetches fonts as it typesets; its queue runs this after the page's math.
        self.page.evaluate(
            "() => window.MathJax && MathJax.Hub"
            " ? new Promise(done => MathJax.Hub.Queue(() => done(true))) : false"
        )


@pytest.fixture
def visitor(browser, site_url: str) -> Iterator[Visitor]:
    visitor = Visitor(browser, site_url)
    yield visitor
    visitor.page.close()


def test_index_leads_to_a_lesson_whose_figures_draw(visitor: Visitor, tmp_path: Path) -> None:
    page = visitor.page
    visitor.open(visitor.site_url)
    assert "Toy models" in page.title()
    lesson_links = page.locator("article a[href^='lessons/']")
    assert lesson_links.count() == len(DONE), "one 'solved' link per lesson in the table"
    colab = page.locator("article a[href^='https://colab.research.google.com/github/']")
    assert colab.count() == 2 * len(DONE), "an exercise and a solution Colab link per lesson"

    lesson = next(lesson for lesson in DONE if lesson.slug == "sort_fixed")
    visitor.leaving = True
    with page.expect_navigation():
        page.locator(f"article a[href='lessons/{lesson.stem}.html']").first.click()
    visitor.leaving = False
    visitor.where = page.url
    visitor.settle()
    assert page.url.endswith(f"lessons/{lesson.stem}.html")

    # plotly draws an <svg> into each figure's div; circuitsvis renders into its own div.
    figures = page.locator(".plotly-graph-div")
    assert figures.count() >= 3
    page.locator(".plotly-graph-div svg.main-svg").first.wait_for(timeout=15_000)
    assert page.locator(".plotly-graph-div:has(svg.main-svg)").count() == figures.count()

    # Spoiler-free: each exercise shows its stub, and its solution code starts folded.
    stubs = page.locator(".admonition:has-text('Exercise: your starting point')")
    folded = page.locator("details.hide.above-input")
    assert stubs.count() >= 3 and folded.count() >= stubs.count()
    assert not folded.first.evaluate("el => el.open")
    assert not folded.first.locator("pre").first.is_visible()
    folded.first.locator("summary").click()
    assert folded.first.locator("pre").first.is_visible()

    page.screenshot(path=str(tmp_path / "lesson.png"), full_page=False)
    assert (tmp_path / "lesson.png").stat().st_size > 10_000
    assert not visitor.errors, "\n".join(visitor.errors)


def test_attention_views_and_formulas_render_offline(visitor: Visitor) -> None:
    page = visitor.page
    visitor.open(urljoin(visitor.site_url, "lessons/00_getting_started.html"))
    views = page.locator("div[id^='circuits-vis-']")
    assert views.count() >= 1
    views.first.locator("*").first.wait_for(timeout=15_000)  # circuitsvis drew into it

    visitor.open(urljoin(visitor.site_url, "lessons/15_induction.html"))
    page.locator(".MathJax").first.wait_for(timeout=15_000)  # MathJax typeset the formulas
    assert not visitor.errors, "\n".join(visitor.errors)


def test_every_page_loads_cleanly_and_every_internal_link_resolves(visitor: Visitor) -> None:
    """Crawl from the index: each page opens without a JavaScript error or a request that
    leaves the site, and each internal link (anchors included) points at something real."""
    page = visitor.page
    to_visit = [urljoin(visitor.site_url, "index.html")]
    seen: set[str] = set()
    anchors: dict[str, set[str]] = {}
    wanted: list[tuple[str, str, str]] = []  # (from page, target page, anchor)
    while to_visit:
        url = to_visit.pop()
        if url in seen:
            continue
        seen.add(url)
        visitor.open(url)
        anchors[url] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        for href in hrefs:
            target, fragment = urldefrag(href)
            if not target.startswith(visitor.site_url):
                assert urlparse(target).scheme in ("http", "https", "mailto"), href
                continue
            target = target if not target.endswith("/") else target + "index.html"
            wanted.append((url, target, fragment))
            exists = (SITE / target.removeprefix(visitor.site_url)).is_file()
            if target.endswith(".html") and exists and target not in seen:
                to_visit.append(target)

    lesson_pages = {u for u in seen if "/lessons/" in u}
    assert len(lesson_pages) == len(DONE), "every lesson page is reachable from the index"
    broken = []
    for source, target, fragment in wanted:
        if target.endswith(".html"):
            if target not in anchors:
                broken.append(f"{source} -> {target}: not a page")
            elif fragment and fragment not in anchors[target]:
                broken.append(f"{source} -> {target}#{fragment}: no such anchor")
        elif not (SITE / target.removeprefix(visitor.site_url)).exists():
            broken.append(f"{source} -> {target}: no such file")
    problems = sorted(set(broken)) + visitor.errors
    assert not problems, "\n".join(problems)
