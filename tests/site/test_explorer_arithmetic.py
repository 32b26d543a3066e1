"""Browser test of the convolution arithmetic playground (docs/explorer/conv-arithmetic.rst).

Drives the page as a reader does (types into the number boxes, presses keys on the sliders and on
the drawing, clicks the buttons and radio buttons) and compares the output size the page shows
with convops.arithmetic called here on the same values. Fails on any console error, uncaught
exception, failed or external request, and on sideways scrolling at 390 px. Screenshots of the page
at 1280 and 390 px, light and dark, go into the `screenshots` directory
(``conv-arithmetic__<width>-<scheme>.jpg``).

Build the site first (``bash scripts/site.sh --no-serve``, or sphinx into a directory named by
CONVOPS_SITE_DIR).
"""

from __future__ import annotations

import time

import pytest
from site_browser import Visit

from convops import arithmetic

PAGE = "explorer/conv-arithmetic.html"


@pytest.fixture
def visit(browser, base_url):
    """A visit of the playground, paused (reduced motion), so that positions do not move on their own."""
    opened = Visit(browser, base_url, reduced_motion="reduce")
    page = opened.open(PAGE)
    page.wait_for_selector(".convops-playground[data-ready='true']")
    yield opened
    opened.close()


def set_number(page, control: str, value) -> None:
    """Type into a number box as a reader does, then leave it (which commits the value)."""
    box = page.locator(f"#{control}")
    box.click()
    box.press("Control+a")
    box.type(str(value))
    box.press("Tab")


def choose(page, name: str, value: str) -> None:
    page.locator(f"input[name='{name}'][value='{value}']").check()


def shown_size(page) -> tuple[int, int]:
    size = page.locator("#cp-output-size")
    rows, cols = int(size.get_attribute("data-rows")), int(size.get_attribute("data-cols"))
    assert size.inner_text() == f"{rows} × {cols}"
    return rows, cols


def set_geometry(page, mode="conv", i=7, k=3, s=2, d=1, padding="SAME", pads=(0, 0, 0, 0)) -> None:
    choose(page, "cp-mode", mode)
    choose(page, "cp-padding", padding)
    for control, value in (("cp-input", i), ("cp-kernel", k), ("cp-stride", s)):
        set_number(page, control, value)
    if mode != "pool":
        set_number(page, "cp-dilation", d)
    if padding == "EXPLICIT":
        for control, value in zip(("cp-top", "cp-bottom", "cp-left", "cp-right"), pads):
            set_number(page, control, value)


def test_opens_with_the_formula_filled_in(visit):
    page = visit.page
    assert shown_size(page) == (arithmetic.conv_output_size(7, 3, 2, "SAME"),) * 2 == (4, 4)
    formula = page.locator("#cp-formula").inner_text()
    assert "floor((7 + 1 + 1 − 3) / 2) + 1 = 4" in formula
    assert "SAME: o = ceil(i / s) = ceil(7 / 2) = 4" in formula
    assert visit.problems() == []


CASES = [
    # (mode, i, k, s, d, padding, (top, bottom, left, right))
    ("conv", 7, 3, 1, 1, "VALID", None),
    ("conv", 8, 3, 2, 1, "VALID", None),
    ("conv", 10, 3, 3, 2, "SAME", None),
    ("conv", 6, 4, 1, 1, "SAME", None),
    ("conv", 9, 2, 2, 3, "EXPLICIT", (0, 3, 2, 1)),
    ("conv", 28, 3, 1, 1, "VALID", None),
    ("pool", 26, 2, 2, 1, "VALID", None),
    ("pool", 11, 3, 2, 1, "SAME", None),
    ("pool", 5, 3, 3, 1, "EXPLICIT", (1, 2, 0, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c[:6])))
def test_output_size_is_convops(visit, case):
    mode, i, k, s, d, padding, pads = case
    page = visit.page
    set_geometry(page, mode, i, k, s, d, padding, pads or (0, 0, 0, 0))
    if padding == "EXPLICIT":
        axes = [(pads[0], pads[1]), (pads[2], pads[3])]
    else:
        axes = [padding, padding]
    if mode == "pool":
        expected = tuple(arithmetic.pool_output_size(i, k, s, p) for p in axes)
    else:
        expected = tuple(arithmetic.conv_output_size(i, k, s, p, d) for p in axes)
    assert shown_size(page) == expected
    formula = page.locator("#cp-formula").inner_text()
    assert f"= {expected[0]}" in formula and f"= {expected[1]}" in formula
    assert visit.problems() == []


def test_sliders_and_keys_move_the_window(visit):
    page = visit.page
    set_geometry(page, "conv", 5, 3, 1, 1, "VALID")
    slider = page.locator("#cp-input-slider")
    slider.focus()
    for _ in range(3):
        slider.press("ArrowRight")  # the slider's own keys: 5 -> 8
    assert page.locator("#cp-input").input_value() == "8"
    assert shown_size(page) == (arithmetic.conv_output_size(8, 3),) * 2 == (6, 6)
    page.locator("#cp-kernel-slider").focus()
    page.keyboard.press("ArrowLeft")  # kernel 3 -> 2
    assert shown_size(page) == (arithmetic.conv_output_size(8, 2),) * 2
    set_number(page, "cp-kernel", 3)

    root = page.locator(".convops-playground")
    assert root.get_attribute("data-playing") == "false"  # reduced motion: starts paused
    page.locator("#cp-stage").focus()
    assert root.get_attribute("data-position") == "0,0"
    page.keyboard.press("ArrowRight")
    assert root.get_attribute("data-position") == "0,1"
    page.keyboard.press("ArrowDown")
    assert root.get_attribute("data-position") == "1,1"
    page.keyboard.press("End")
    assert root.get_attribute("data-position") == "5,5"
    page.keyboard.press("ArrowRight")  # wraps around
    assert root.get_attribute("data-position") == "0,0"
    page.locator("#cp-prev").click()
    assert root.get_attribute("data-position") == "5,5"
    page.locator("#cp-next").click()
    page.locator("#cp-next").click()
    assert root.get_attribute("data-position") == "0,1"
    assert "output row 0, column 1 (2 / 36)" in page.locator("#cp-position").inner_text()
    assert "columns 1 to 3" in page.locator("#cp-input-canvas").get_attribute("aria-label")
    page.keyboard.press("Home")
    assert root.get_attribute("data-position") == "0,0"

    page.locator("#cp-play").click()
    assert root.get_attribute("data-playing") == "true"
    page.wait_for_function("document.querySelector('.convops-playground').dataset.position !== '0,0'", timeout=5000)
    page.locator("#cp-play").click()
    assert root.get_attribute("data-playing") == "false"
    paused_at = root.get_attribute("data-position")
    page.wait_for_timeout(1600)
    assert root.get_attribute("data-position") == paused_at, "the window moved after pause"
    assert visit.problems() == []


def test_plays_unless_reduced_motion(browser, base_url):
    visit = Visit(browser, base_url)
    try:
        page = visit.open(PAGE)
        page.wait_for_selector(".convops-playground[data-ready='true']")
        assert page.locator(".convops-playground").get_attribute("data-playing") == "true"
        page.wait_for_function("document.querySelector('.convops-playground').dataset.position !== '0,0'", timeout=5000)
        page.locator("#cp-stage").focus()
        page.keyboard.press(" ")
        assert page.locator(".convops-playground").get_attribute("data-playing") == "false"
        assert visit.problems() == []
    finally:
        visit.close()


def test_same_puts_the_odd_pixel_bottom_right(visit):
    page = visit.page
    set_geometry(page, "conv", 6, 4, 1, 1, "SAME")
    before, after = arithmetic.same_padding(6, 4)
    assert (before, after) == (1, 2)
    formula = page.locator("#cp-formula").inner_text()
    assert f"padding 3 = {before} top/left + {after} bottom/right" in formula
    assert "the odd pixel goes to the bottom/right" in formula
    assert shown_size(page) == (arithmetic.conv_output_size(6, 4, padding="SAME"),) * 2 == (6, 6)
    # The padded input the page draws: 6 + 1 + 2 cells a side.
    assert "Padded input, 9 by 9 cells" in page.locator("#cp-input-canvas").get_attribute("aria-label")
    assert visit.problems() == []


def test_invalid_geometry_shows_the_empty_output(visit):
    page = visit.page
    set_geometry(page, "conv", 2, 5, 1, 1, "VALID")
    assert arithmetic.conv_output_size(2, 5) == 0
    assert shown_size(page) == (0, 0)
    assert "empty" in page.locator("#cp-message").inner_text()
    assert page.locator("#cp-output-canvas").is_hidden()
    assert "no output position" in page.locator("#cp-position").inner_text()
    page.locator("#cp-stage").focus()
    page.keyboard.press("ArrowRight")  # stepping an empty output must not throw
    page.locator("#cp-play").click()
    # Fixing the geometry clears the message.
    set_number(page, "cp-input", 5)
    assert shown_size(page) == (1, 1)
    assert page.locator("#cp-message").inner_text() == ""
    # Pooling with explicit padding as wide as the window: convops.max_pool2d refuses it.
    set_geometry(page, "pool", 5, 2, 2, 1, "EXPLICIT", (2, 0, 0, 0))
    assert "refuses" in page.locator("#cp-message").inner_text()
    expected = (arithmetic.pool_output_size(5, 2, 2, (2, 0)), arithmetic.pool_output_size(5, 2, 2, (0, 0)))
    assert shown_size(page) == expected
    assert visit.problems() == []


def test_transposed_offers_only_the_sizes_convops_accepts(visit):
    page = visit.page
    set_geometry(page, "transposed", 4, 3, 2, 1, "SAME")
    accepted = arithmetic.input_size_range(4, 3, 2, 1, "SAME")
    assert list(accepted) == [7, 8]
    box = page.locator("#cp-tout")
    assert (box.get_attribute("min"), box.get_attribute("max")) == ("7", "8")
    for asked, shown in ((8, 8), (7, 7), (3, 7), (50, 8)):
        set_number(page, "cp-tout", asked)
        assert shown_size(page) == (shown, shown)
        assert box.input_value() == str(shown)
    assert "conv2d_transpose accepts n = 7 to 8" in page.locator("#cp-formula").inner_text()
    # Zeros inserted between the 4 input pixels (stride 2), padded by k_eff - 1 - p_before a side.
    top, _ = arithmetic.resolve_padding("SAME", 8, 3, 2)
    side = 8 + 3 - 1
    assert f"Padded input, {side} by {side} cells" in page.locator("#cp-input-canvas").get_attribute("aria-label")
    assert top == 0
    # Explicit padding wider than the kernel can make every size impossible: an empty output.
    set_geometry(page, "transposed", 1, 1, 1, 1, "EXPLICIT", (2, 2, 2, 2))
    assert list(arithmetic.input_size_range(1, 1, 1, 1, (2, 2))) == []
    assert shown_size(page) == (0, 0)
    assert "refuses every output size" in page.locator("#cp-message").inner_text()
    assert visit.problems() == []


def test_extreme_values_are_clamped_and_fast(visit):
    page = visit.page
    choose(page, "cp-mode", "conv")
    for control, typed, kept in (
        ("cp-input", "1000000000", "64"),
        ("cp-kernel", "999", "16"),
        ("cp-stride", "-5", "1"),
        ("cp-dilation", "abc", "1"),
    ):
        set_number(page, control, typed)
        assert page.locator(f"#{control}").input_value() == kept
    choose(page, "cp-padding", "VALID")
    assert shown_size(page) == (arithmetic.conv_output_size(64, 16),) * 2
    # The largest drawing: a transposed convolution with every control at its maximum.
    choose(page, "cp-mode", "transposed")
    started = time.perf_counter()
    for control, value in (("cp-stride", 8), ("cp-dilation", 8), ("cp-tout", 100000)):
        set_number(page, control, value)
    choose(page, "cp-padding", "EXPLICIT")
    for control in ("cp-top", "cp-bottom", "cp-left", "cp-right"):
        set_number(page, control, 99)
    elapsed = time.perf_counter() - started
    accepted = arithmetic.input_size_range(64, 16, 8, 8, (32, 32))
    assert shown_size(page) == (accepted[-1],) * 2
    page.locator("#cp-stage").focus()
    page.keyboard.press("End")
    last = accepted[-1] - 1
    assert page.locator(".convops-playground").get_attribute("data-position") == f"{last},{last}"
    assert elapsed < 20, f"eight edits at the extremes took {elapsed:.1f} s"
    assert visit.problems() == []


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_and_no_sideways_scroll(browser, base_url, screenshots, width, scheme):
    visit = Visit(browser, base_url, colour_scheme=scheme, reduced_motion="reduce")
    try:
        page = visit.page
        page.set_viewport_size({"width": width, "height": 900})
        visit.open(PAGE)
        page.wait_for_selector(".convops-playground[data-ready='true']")
        set_geometry(page, "conv", 7, 3, 2, 2, "SAME")
        page.locator("#cp-stage").focus()
        for _ in range(2):
            page.keyboard.press("ArrowRight")
        assert shown_size(page) == (arithmetic.conv_output_size(7, 3, 2, "SAME", 2),) * 2
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {width} px"
        box = page.locator(".convops-playground").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        page.evaluate("window.scrollTo(0, 0)")  # else furo's sticky header lands mid-page in a full-page shot
        page.screenshot(path=str(screenshots / f"conv-arithmetic__{width}-{scheme}.jpg"), full_page=True, quality=80)
        page.locator(".convops-playground").screenshot(
            path=str(screenshots / f"conv-arithmetic__{width}-{scheme}-playground.jpg"), quality=80
        )
        assert visit.problems() == []
    finally:
        visit.close()
