"""Fixtures of the browser tests (tests/site): the built site served on 127.0.0.1, Debian's
Chromium driven by Playwright, and the screenshot directory."""

from __future__ import annotations

import functools
import http.server
import os
import pathlib
import tempfile
import threading

import pytest
from site_browser import CHROMIUM, FLAGS, SITE, QuietHandler


@pytest.fixture(scope="module")
def base_url():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"the site is not built: {SITE}/index.html is missing. Run `bash scripts/site.sh --no-serve`.")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # a failure, not a skip: the docs job needs it
        pytest.fail(f"playwright is not installed ({exc}); run `bash scripts/env.sh docs`")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM}; `bash scripts/env.sh docs` installs Debian's chromium")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots():
    """$CONVOPS_SCREENSHOTS, else one new directory per test run, shared by pytest-xdist's workers
    (they name the run alike in PYTEST_XDIST_TESTRUNUID)."""
    where = os.environ.get("CONVOPS_SCREENSHOTS")
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if where:
        path = pathlib.Path(where)
    elif run:
        path = pathlib.Path(tempfile.gettempdir()) / f"convops-site-shots-{run}"
    else:
        path = pathlib.Path(tempfile.mkdtemp(prefix="convops-site-shots-"))
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of every page: {path}")
    return path
