"""Browser test of the explorer in the Traditional-Chinese edition (zh_TW/explorer/*.html).

The three widgets are opened as a reader of the Chinese edition sees them and used once each (an
MNIST digit loaded and read by the network, the playground's geometry changed and its window
stepped, a filter-lab kernel picked and a bad weight typed); then every word the widget shows — its
visible text, the options of its selects and the aria-label, title, placeholder and alt of every
element, including what the JavaScript wrote (docs/_static/explorer/strings.js) — must be Chinese:
it contains Chinese, none of the English UI words of LEFTOVER, and no English word at all beyond
ALLOWED (names, code and formula symbols, which stay as they are). The English edition's widgets, for
their part, must hold no Chinese. Fails on any console error, uncaught exception, failed or external
request, and on sideways scrolling at 390 px. Screenshots at 390 and 1280 px go into the
`screenshots` directory (``zh-<page>__<width>.png``).

Build both editions first (``bash scripts/site.sh --no-serve``, or sphinx into a directory named
by CONVOPS_SITE_DIR and ``-D language=zh_TW`` into its zh_TW/).
"""

from __future__ import annotations

import re

import pytest
from site_browser import Visit

from convops import arithmetic

ZH = "zh_TW/explorer/"
HAN = re.compile(r"[\u3400-\u9fff]")
# English words a widget of the Chinese edition must not show (its buttons, labels, captions and
# the run-time messages of strings.js), matched as whole words, case-sensitively.
LEFTOVER = [
    # draw a digit
    "Your drawing",
    "Clear",
    "Load an MNIST test digit",
    "choose a digit",
    "Network input",
    "Prediction",
    "Loading",
    "One unit",
    "Nothing drawn",
    "network reads",
    "test digit",
    "Last update",
    "Bounding box",
    "Conv",
    "conv",
    "Max-pool",
    "max-pool",
    "feature map",
    "Its kernel",
    "receptive field",
    "weights",
    "bias",
    "sum of",
    "products",
    "Click another unit",
    "percent",
    "labelled",
    # playground
    "Operation",
    "Convolution",
    "Transposed convolution",
    "Max pooling",
    "Input size",
    "Kernel",
    "Stride",
    "Dilation",
    "Padding",
    "Explicit",
    "top",
    "bottom",
    "left",
    "right",
    "Output size",
    "Output",
    "Input",
    "step",
    "play",
    "pause",
    "Play",
    "Pause",
    "Previous",
    "Next",
    "slider",
    "rows",
    "columns",
    "the window",
    "output row",
    "no output position",
    "refuses",
    "accepts",
    "empty",
    "shown",
    "Padded input",
    "current cell",
    # filter lab
    "Preset",
    "Size",
    "Digit",
    "Image and geometry",
    "Vertical edge",
    "Horizontal edge",
    "Laplacian",
    "Outline",
    "Sharpen",
    "Box blur",
    "Gaussian blur",
    "Identity",
    "Custom",
    "no padding",
    "zeros",
    "mean",
    "reflect",
    "symmetric",
    "edge",
    "circular",
    "Response map",
    "After ReLU",
    "The weights sum",
    "flat regions",
    "is empty or not a number",
    "Kernel weight",
    "its receptive field",
    "padded to",
]
# English that stays in the Chinese edition: names, code, units and the symbols of the formulas.
ALLOWED = {
    "ReLU",
    "SAME",
    "VALID",
    "MNIST",
    "softmax",
    "convops",
    "TensorFlow",
    "JavaScript",
    "Sobel",
    "conv2d_transpose",
    "max_pool2d",
    "ceil",
    "floor",
    "max",
    "k_eff",
    "p_before",
    "p_after",
    "px",
    "ms",
    "SHA",
    "https",
    "localhost",
    "float32",
    "NaN",
}
WIDGETS = {
    "draw-a-digit": "#digit-explorer",
    "conv-arithmetic": ".convops-playground",
    "filter-lab": "#filterlab",
}
# Every word of the widget: visible text, options, and the accessible names and hints.
WORDS_JS = """(root) => {
  const parts = [root.innerText];
  for (const option of root.querySelectorAll('option')) parts.push(option.textContent);
  for (const el of [root, ...root.querySelectorAll('*')]) {
    for (const name of ['aria-label', 'aria-description', 'title', 'placeholder', 'alt']) {
      const value = el.getAttribute(name);
      if (value) parts.push(value);
    }
  }
  return parts.join('\\n');
}"""


def widget_words(page, selector: str) -> str:
    return page.locator(selector).evaluate(WORDS_JS)


def english_left(text: str) -> list[str]:
    """The English of LEFTOVER in `text`, and any other English word not in ALLOWED."""
    found = [word for word in LEFTOVER if re.search(rf"(?<![A-Za-z_]){re.escape(word)}(?![A-Za-z_])", text)]
    words = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text))
    # single letters are the formulas' symbols (i, k, s, d, n, o, p); 1e-5 style exponents too
    found += sorted(w for w in words if len(w) > 1 and w not in ALLOWED and not re.fullmatch(r"e\d*", w))
    return found


def assert_chinese(page, page_name: str) -> None:
    text = widget_words(page, WIDGETS[page_name])
    assert HAN.search(text), f"{page_name}: no Chinese in the widget"
    left = english_left(text)
    assert not left, f"{page_name}: English left in the Chinese widget: {sorted(set(left))}\n{text}"


def open_zh(browser, base_url, name: str, width: int = 1280) -> tuple[Visit, object]:
    visit = Visit(browser, base_url, reduced_motion="reduce")
    visit.page.set_viewport_size({"width": width, "height": 900})
    page = visit.open(ZH + name + ".html")
    assert page.get_attribute("html", "lang") == "zh-Hant-TW"
    return visit, page


def use_digit(page) -> None:
    page.wait_for_function("document.getElementById('digit-explorer').dataset.state === 'empty'")
    assert "還沒有畫" in page.inner_text("#digit-status")
    page.select_option("#digit-pick", value="3")
    page.wait_for_function("document.getElementById('digit-explorer').dataset.state === 'ready'")
    predicted = page.get_attribute("#digit-explorer", "data-predicted")
    assert predicted is not None and predicted.isdigit()
    status = page.inner_text("#digit-status")
    assert "網路判讀為" in status and predicted in status, status
    assert len(page.locator("#digit-bars li").all()) == 10
    # one unit of the second convolution: its story (kernel slices, receptive field, the sum)
    page.locator(".digit-maps[data-layer='2']").focus()
    page.keyboard.press("ArrowRight")
    unit = page.inner_text("#digit-unit")
    assert "感受野" in unit and "3×3×32 = 288 個權重" in unit, unit
    page.locator(".digit-maps[data-layer='1']").focus()
    page.keyboard.press("ArrowDown")
    assert "最大池化沒有權重" in page.inner_text("#digit-unit")


def use_playground(page) -> None:
    page.wait_for_selector(".convops-playground[data-ready='true']")
    assert page.inner_text("#cp-output-size") == "4 × 4"
    formula = page.inner_text("#cp-formula")
    assert "SAME：o = ceil(i / s) = ceil(7 / 2) = 4" in formula, formula
    assert "floor((7 + 1 + 1 − 3) / 2) + 1 = 4" in formula and "列與行：" in formula, formula
    page.locator("#cp-stage").focus()
    page.keyboard.press("ArrowRight")
    assert "輸出第 0 列、第 1 行（2 / 16）" in page.inner_text("#cp-position")
    # an empty output: the message says so in Chinese, and the size is convops'
    page.locator("input[name='cp-padding'][value='VALID']").check()
    for control, value in (("cp-input", 2), ("cp-kernel", 5)):
        box = page.locator(f"#{control}")
        box.fill(str(value))
        box.press("Tab")
    assert arithmetic.conv_output_size(2, 5, 2) == 0
    assert page.inner_text("#cp-output-size") == "0 × 0"
    assert "輸出是空的" in page.inner_text("#cp-message")
    assert "沒有輸出位置" in page.inner_text("#cp-position")
    page.locator("#cp-input").fill("9")
    page.locator("#cp-input").press("Tab")
    assert page.inner_text("#cp-message") == ""
    # the play button's words follow it
    page.locator("#cp-play").click()
    assert page.inner_text("#cp-play") == "❚❚ 暫停" and page.get_attribute("#cp-play", "aria-label") == "暫停"
    page.locator("#cp-play").click()
    assert page.inner_text("#cp-play") == "▶ 播放"
    page.locator("input[name='cp-mode'][value='transposed']").check()
    assert "conv2d_transpose 接受 n =" in page.inner_text("#cp-formula")
    page.locator("input[name='cp-mode'][value='conv']").check()


def use_filter_lab(page) -> None:
    page.wait_for_function("document.getElementById('filterlab').dataset.status === 'ok'")
    assert page.locator("#filterlab-preset option").first.inner_text() == "垂直邊緣"
    assert page.inner_text("#filterlab-response-caption").startswith("響應圖 28 × 28：")
    page.locator(".filterlab-response").focus()
    page.keyboard.press("ArrowDown")
    assert "感受野" in page.inner_text("#filterlab-readout")
    # a bad weight: a Chinese message, no map computed
    cell = page.locator(".filterlab-grid input").nth(4)
    cell.fill("")
    page.wait_for_function("document.getElementById('filterlab').dataset.status === 'error'")
    assert "不是數字" in page.inner_text(".filterlab-message")
    cell.fill("5")
    page.wait_for_function("document.getElementById('filterlab').dataset.status === 'ok'")
    assert page.locator("#filterlab-preset").input_value() == "custom"
    page.select_option("#filterlab-padding", value="MEAN")
    assert "影像的平均值" in page.inner_text("#filterlab-input-caption")


USE = {"draw-a-digit": use_digit, "conv-arithmetic": use_playground, "filter-lab": use_filter_lab}


@pytest.mark.parametrize("name", list(WIDGETS))
def test_the_widget_works_and_speaks_chinese(browser, base_url, name):
    visit, page = open_zh(browser, base_url, name)
    try:
        USE[name](page)
        assert_chinese(page, name)
        assert visit.problems() == []
    finally:
        visit.close()


READY = {
    "draw-a-digit": "document.getElementById('digit-explorer').dataset.state === 'empty'",
    "conv-arithmetic": "document.querySelector('.convops-playground').dataset.ready === 'true'",
    "filter-lab": "document.getElementById('filterlab').dataset.status === 'ok'",
}


@pytest.mark.parametrize("name", list(WIDGETS))
def test_the_english_widget_stays_english(browser, base_url, name):
    visit = Visit(browser, base_url, reduced_motion="reduce")
    try:
        page = visit.open("explorer/" + name + ".html")
        page.wait_for_function(READY[name])
        if name == "draw-a-digit":
            page.select_option("#digit-pick", value="3")
            page.wait_for_function("document.getElementById('digit-explorer').dataset.state === 'ready'")
        text = widget_words(page, WIDGETS[name])
        assert not HAN.search(text), f"Chinese in the English {name}: {HAN.findall(text)[:20]}"
        assert visit.problems() == []
    finally:
        visit.close()


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("name", list(WIDGETS))
def test_screenshots_and_no_sideways_scroll(browser, base_url, screenshots, name, width):
    visit, page = open_zh(browser, base_url, name, width)
    try:
        USE[name](page)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"zh {name} scrolls sideways by {overflow} px at {width} px"
        widget = page.locator(WIDGETS[name])
        box = widget.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
        # nothing inside the widget is wider than the widget (a Chinese label that does not fit)
        wide = widget.evaluate(
            """(root) => {
                 const right = root.getBoundingClientRect().right + 1;
                 return [...root.querySelectorAll('*')]
                   .filter((el) => el.getClientRects().length && el.getBoundingClientRect().right > right)
                   .map((el) => el.tagName + (el.id ? '#' + el.id : '') + ' ' + (el.textContent || '').slice(0, 30));
               }"""
        )
        assert not wide, f"zh {name} at {width} px: wider than the widget: {wide[:5]}"
        page.evaluate("window.scrollTo(0, 0)")
        widget.screenshot(path=str(screenshots / f"zh-{name}__{width}.png"))
        assert visit.problems() == []
    finally:
        visit.close()
