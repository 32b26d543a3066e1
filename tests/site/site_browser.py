"""What every browser test of the built site shares: where the site and Chromium are, and a page
visit that records everything that went wrong (console errors, uncaught exceptions, failed or
external requests). The pytest fixtures that start the server and the browser are in conftest.py."""

from __future__ import annotations

import http.server
import os
import pathlib
from urllib.parse import urlparse

ROOT = pathlib.Path(__file__).resolve().parents[2]
SITE = pathlib.Path(os.environ.get("CONVOPS_SITE_DIR", ROOT / "docs" / "_build" / "html"))
CHROMIUM = os.environ.get("CONVOPS_CHROMIUM", "/usr/bin/chromium")
# The flags that keep Chromium quiet and offline on this kind of machine (docs toolchain note).
# Playwright adds --headless and its own temporary profile (it refuses --user-data-dir here).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test reports what matters; no access log
        pass


class Visit:
    """One page opened in a fresh browser context that records everything that went wrong."""

    def __init__(self, browser, base_url: str, colour_scheme: str = "light", reduced_motion: str = "no-preference"):
        self.base = base_url
        self.external: list[str] = []
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 900}, color_scheme=colour_scheme, reduced_motion=reduced_motion
        )
        # On the context, not the page: requests of web workers only show there.
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on(
            "console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("response", lambda r: self.failed.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
        self.page.on(
            "requestfailed",
            lambda r: self.failed.append(f"failed {r.url}: {r.failure}") if r.url.startswith(self.base) else None,
        )

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base) or urlparse(url).scheme in ("data", "blob", "about"):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def open(self, path: str):
        response = self.page.goto(self.base + path, wait_until="load")
        assert response is not None and response.status == 200, f"{path}: HTTP {response and response.status}"
        return self.page

    def close(self):
        self.context.close()

    def problems(self) -> list[str]:
        return [f"request to an external host: {u}" for u in self.external] + self.errors + self.failed
