"""Browser test of the filter lab (explorer/filter-lab.html), in Debian's Chromium.

The test uses the page as a reader does — picks a digit and a preset in the selects, clicks the
stride radio buttons, types weights into the kernel grid, moves over the response map with the arrow
keys and a tap — then reads the numbers the page computed (``window.convopsFilterLab``, published by
filterlab.js for this purpose) and compares them with convops on the same digit, read from the same
``_static/explorer/digits.json`` of the built site: ``convops.conv2d(digit, kernel, padding="SAME")``
for zeros, ``convops.conv2d(convops.pad(digit, ..., mode), kernel)`` for the other modes, VALID
without padding; the ReLU map with ``np.maximum``. Max abs error <= 1e-5 of the map's scale
(max |response|, or 1).

Bad kernels (an empty cell, a weight beyond float32, all zeros, overflowing responses) must give a
message and never an error in the console. Screenshots at 1280 and 390 px, light and dark:
``filter-lab__<width>-<scheme>.jpg`` in the ``screenshots`` directory.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from site_browser import SITE, Visit

import convops
from convops.arithmetic import resolve_padding

PAGE = "explorer/filter-lab.html"
TOLERANCE = 1e-5
# The presets exercised, as the concept page on response maps writes them (rows top to bottom).
PRESETS = {
    "Vertical edge": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
    "Sobel, horizontal edges": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "Laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "Box blur": [[1 / 9] * 3] * 3,
    "Box blur 5 × 5": [[1 / 25] * 5] * 5,
}
# What each screenshot shows: a preset and a padding mode.
SHOWN = {1280: ("Sobel, horizontal edges", "REFLECT"), 390: ("Box blur 5 × 5", "EDGE")}
MODES = ["VALID", "CONSTANT", "MEAN", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR"]
ERRORS: dict[str, float] = {}  # the largest error measured per kind of case, printed at the end
MILLIS: list[float] = []  # time to compute and draw the maps, as the page measured it


@pytest.fixture(scope="module", autouse=True)
def report_max_error():
    """After the module's tests in this process: the largest error measured against convops (run the
    module with -s to see it). A teardown, not a test: under pytest-xdist a test that read what
    other tests recorded could run in another worker process."""
    yield
    if ERRORS:
        print(
            "\nfilter lab vs convops, max abs error / map scale: "
            + ", ".join(f"{k} {v:.2e}" for k, v in ERRORS.items())
        )
        print(f"time to compute and draw the maps: median {np.median(MILLIS):.1f} ms, max {max(MILLIS):.1f} ms")


@pytest.fixture(scope="module")
def digits():
    path = SITE / "_static" / "explorer" / "digits.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the site's build writes it (docs/_ext/explorer_assets.py)")
    return json.loads(path.read_text())


def _expected(pixels, kernel, mode: str, stride: int) -> np.ndarray:
    """convops' response map of one digit (ink / 255, float32), as a 2-D array."""
    digit = (np.asarray(pixels, dtype=np.float32) / np.float32(255)).reshape(28, 28)
    w = np.asarray(kernel, dtype=np.float32)
    if mode in ("VALID", "CONSTANT"):  # TF's own SAME (zeros) and VALID
        return convops.conv2d(digit, w, strides=stride, padding="VALID" if mode == "VALID" else "SAME")
    pads = list(resolve_padding("SAME", 28, w.shape[0], stride))
    return convops.conv2d(convops.pad(digit, [pads, pads], mode), w, strides=stride)


def _open(visit: Visit):
    page = visit.open(PAGE)
    page.wait_for_function("() => document.getElementById('filterlab').dataset.status !== 'loading'")
    return page


def _state(page) -> dict:
    return page.evaluate("() => window.convopsFilterLab")


def _check(page, digits, kernel, mode: str, stride: int, what: str) -> None:
    """The page's response and ReLU maps against convops on the digit the page shows."""
    state = _state(page)
    assert state["status"] == "ok", state
    # The grid shows 6 significant digits (1/9 is 0.111111): the kernel convops gets is the exact one.
    np.testing.assert_allclose(state["kernel"], kernel, rtol=2e-6, err_msg="not the kernel picked or typed")
    want = _expected(digits["images"][state["digitIndex"]], kernel, mode, stride)
    shape = state["response"]["shape"]
    assert shape == [*want.shape, 1], f"{what}: response shape {shape}, convops {want.shape}"
    got = np.asarray(state["response"]["data"], dtype=np.float64).reshape(want.shape)
    scale = max(float(np.abs(want).max()), 1.0)
    error = float(np.abs(got - want).max()) / scale
    relu_error = (
        float(np.abs(np.asarray(state["relu"]["data"]).reshape(want.shape) - np.maximum(want, 0)).max()) / scale
    )
    ERRORS[what] = max(ERRORS.get(what, 0.0), error, relu_error)
    MILLIS.append(state["millis"])
    assert error <= TOLERANCE and relu_error <= TOLERANCE, (
        f"{what}: max relative error {error:.2e} (ReLU {relu_error:.2e}) > {TOLERANCE} "
        f"at {np.unravel_index(np.abs(got - want).argmax(), want.shape)}"
    )


def _stride(page, stride: int) -> None:
    page.get_by_role("radio", name=str(stride), exact=True).check()


def test_presets_digits_padding_modes_and_strides_match_convops(browser, base_url, digits):
    visit = Visit(browser, base_url)
    try:
        page = _open(visit)
        assert _state(page)["status"] == "ok"
        for n, (name, kernel) in enumerate(PRESETS.items()):
            page.get_by_label("Digit", exact=True).select_option(index=(7 * n + 3) % len(digits["labels"]))
            page.get_by_label("Preset", exact=True).select_option(label=name)
            for mode in MODES:
                page.get_by_label("Padding", exact=True).select_option(value=mode)
                for stride in (1, 2):
                    _stride(page, stride)
                    _check(page, digits, kernel, mode, stride, "presets")
            # SAME at stride 2 keeps ceil(28 / 2) = 14 rows and columns; VALID (28 - 3) // 2 + 1 = 13.
            assert _state(page)["response"]["shape"] == [14, 14, 1]
        assert visit.problems() == []
    finally:
        visit.close()


def test_typed_kernels_and_keyboard(browser, base_url, digits):
    visit = Visit(browser, base_url)
    try:
        page = _open(visit)
        page.get_by_label("Size", exact=True).select_option(value="5")
        cells = page.locator(".filterlab-grid input")
        assert cells.count() == 25
        rng = np.random.default_rng(7)
        kernel = np.round(rng.uniform(-2, 2, size=(5, 5)), 2)
        for i, value in enumerate(kernel.ravel()):
            cells.nth(i).fill(str(value))
        # The last weight typed key by key, as a reader would.
        cells.nth(24).fill("")
        cells.nth(24).press_sequentially("-0.75")
        kernel[4, 4] = -0.75
        assert page.get_by_label("Preset", exact=True).input_value() == "custom"
        for mode in ("REFLECT", "MEAN", "VALID"):
            page.get_by_label("Padding", exact=True).select_option(value=mode)
            for stride in (2, 1):
                _stride(page, stride)
                _check(page, digits, kernel.tolist(), mode, stride, "typed 5x5")
        # Keyboard: focus the response map and move the selected output; the readout follows.
        page.locator(".filterlab-response").focus()
        for key in ("ArrowRight", "ArrowRight", "ArrowDown"):
            page.keyboard.press(key)
        assert "Output row 2, column 3" in page.locator(".filterlab-readout").inner_text()
        # Keyboard on the controls: Tab to the padding select from the digit select, pick with the keys.
        page.get_by_label("Digit", exact=True).focus()
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.id") == "filterlab-padding"
        page.get_by_label("Padding", exact=True).select_option(value="CONSTANT")
        page.keyboard.press("ArrowDown")  # the select moves to the next mode; the site does not turn the page
        assert page.url.endswith(PAGE)
        assert page.get_by_label("Padding", exact=True).input_value() == "MEAN"
        _check(page, digits, kernel.tolist(), "MEAN", 1, "typed 5x5")
        assert visit.problems() == []
    finally:
        visit.close()


def test_bad_kernels_give_messages_never_errors(browser, base_url, digits):
    visit = Visit(browser, base_url)
    try:
        page = _open(visit)
        lab = page.locator("#filterlab")
        message = page.locator(".filterlab-message")
        cells = page.locator(".filterlab-grid input")
        cells.nth(4).fill("")  # empty (also what a number input holds when "NaN" or "abc" is typed)
        assert lab.get_attribute("data-status") == "error"
        assert "row 2, column 2 is empty or not a number" in message.inner_text()
        assert cells.nth(4).get_attribute("aria-invalid") == "true"
        cells.nth(4).press_sequentially("-")  # an unfinished number: the input reports bad input
        assert lab.get_attribute("data-status") == "error"
        cells.nth(4).fill("1e39")
        assert "beyond float32's range" in message.inner_text()
        for i in range(9):
            cells.nth(i).fill("0")
        assert lab.get_attribute("data-status") == "ok"
        assert "Every weight is 0" in message.inner_text()
        assert set(_state(page)["response"]["data"]) == {0}
        for i in range(9):
            cells.nth(i).fill("3e38")  # finite weights, but nine of them overflow the float32 sum
        assert "became infinite" in message.inner_text()
        assert lab.get_attribute("data-status") == "ok"
        page.get_by_label("Preset", exact=True).select_option(label="Laplacian")
        assert message.inner_text().strip() == ""
        _check(page, digits, PRESETS["Laplacian"], "CONSTANT", 1, "after bad input")
        assert visit.problems() == []
    finally:
        visit.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
def test_layout_and_screenshots(browser, base_url, digits, screenshots, width, scheme):
    visit = Visit(browser, base_url, colour_scheme=scheme)
    try:
        page = visit.page
        page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
        _open(visit)
        preset, mode = SHOWN[width]
        page.get_by_label("Preset", exact=True).select_option(label=preset)
        page.get_by_label("Padding", exact=True).select_option(value=mode)
        # A tap (click) on the response map selects an output: the readout names it.
        # The map is 28 x 28 cells inside a 4 px white card: 40 % down and 55 % across the cells is
        # row floor(0.4 * 28) + 1 = 12, column floor(0.55 * 28) + 1 = 16.
        canvas = page.locator(".filterlab-response")
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        inner = box["width"] - 8
        page.mouse.click(box["x"] + 4 + inner * 0.55, box["y"] + 4 + inner * 0.4)
        assert "Output row 12, column 16:" in page.locator(".filterlab-readout").inner_text()
        _check(page, digits, PRESETS[preset], mode, 1, "layouts")
        sideways = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert sideways <= 1, f"the page scrolls sideways by {sideways}px at {width}px"
        unlabelled = page.evaluate(
            "() => Array.from(document.querySelectorAll('#filterlab input, #filterlab select'))"
            ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.outerHTML)"
        )
        assert unlabelled == []
        # From the top, the focus on the map: no sticky header or "back to top" button mid-page.
        canvas.focus()
        page.evaluate("() => window.scrollTo(0, 0)")
        page.wait_for_timeout(400)
        page.screenshot(
            path=str(screenshots / f"filter-lab__{width}-{scheme}.jpg"), full_page=True, type="jpeg", quality=85
        )
        assert visit.problems() == []
    finally:
        visit.close()
