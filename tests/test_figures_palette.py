"""The docs' colour grammar (docs/figures/grammar.py) under simulated colour-vision deficiencies.

Each colour is simulated for protanopia, deuteranopia and tritanopia with the matrices of Machado,
Oliveira and Fernandes (2009), "A physiologically-based model for simulation of color vision
deficiency", IEEE TVCG 15(6), table of severity 1.0, applied to linear sRGB (as the paper does; the
same matrices Chrome's and Firefox's developer tools use). Colours are then compared in CIELAB
(D65) with CIEDE2000 (Sharma, Wu and Dalal 2005), itself checked against the paper's test pairs.

Thresholds, and why:

* Role colours (input, kernel, output; and the "same"/"changed" pair) must be at least
  ``CATEGORICAL_DE`` = 10 apart under every simulation. A CIEDE2000 of about 1 is a just-noticeable
  difference between two large patches side by side; the figures show these colours as thin
  outlines, labels and small cells, for which the difference needed to tell colours apart is several
  times larger (Stone, Szafir and Setlur 2014, "An engineering model for color difference as a
  function of size"). 10 is that margin: colours named differently at a glance, not merely
  distinguishable side by side.
* The signed map must keep its two signs apart (its ends at least ``SIGNS_DE`` = 20 apart under
  every simulation: reading the sign is the map's whole job), and its lightness must rise steadily
  from each end to white at zero, under every simulation, so that |value| reads as darkness even for
  a reader who cannot see the hue.
* "The same" and "changed" must also differ in lightness (L* at least 30 apart), so that they stay
  apart in greyscale too; the figures add a hatch to "changed" as well.
"""

from __future__ import annotations

import pathlib
import re
import sys

import matplotlib
import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))

from figures import grammar as g  # noqa: E402

CATEGORICAL_DE = 10.0
SIGNS_DE = 20.0
GREY_L = 30.0

# Machado et al. (2009), severity 1.0, linear RGB -> linear RGB.
MACHADO = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}
VISIONS = [None, *MACHADO]


def linear(rgb) -> np.ndarray:
    c = np.asarray(rgb, dtype=float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def simulate(colour, vision: str | None) -> np.ndarray:
    """Linear sRGB of `colour` as seen with `vision` (None: normal vision)."""
    lin = linear(matplotlib.colors.to_rgb(colour))
    if vision is None:
        return lin
    return np.clip(np.asarray(MACHADO[vision]) @ lin, 0.0, 1.0)


def lab(lin) -> np.ndarray:
    """CIELAB (D65) of a linear sRGB colour."""
    m = np.array(
        [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
    )
    xyz = m @ np.asarray(lin, dtype=float) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def ciede2000(lab1, lab2) -> float:
    """CIEDE2000 colour difference (kL = kC = kH = 1), following Sharma, Wu and Dalal (2005)."""
    l1, a1, b1 = lab1
    l2, a2, b2 = lab2
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    gain = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25**7)))
    a1p, a2p = (1 + gain) * a1, (1 + gain) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360 if c2p else 0.0
    dl, dc = l2 - l1, c2p - c1p
    if c1p * c2p == 0:
        dh = 0.0
    else:
        dh = h2p - h1p
        dh = dh - 360 if dh > 180 else dh + 360 if dh < -180 else dh
    dh_big = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    l_bar, cp_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_bar = (h1p + h2p) / 2
    else:
        h_bar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (
        1
        - 0.17 * np.cos(np.radians(h_bar - 30))
        + 0.24 * np.cos(np.radians(2 * h_bar))
        + 0.32 * np.cos(np.radians(3 * h_bar + 6))
        - 0.20 * np.cos(np.radians(4 * h_bar - 63))
    )
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(cp_bar**7 / (cp_bar**7 + 25**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * cp_bar
    s_h = 1 + 0.015 * cp_bar * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return float(np.sqrt((dl / s_l) ** 2 + (dc / s_c) ** 2 + (dh_big / s_h) ** 2 + r_t * (dc / s_c) * (dh_big / s_h)))


def delta(c1, c2, vision: str | None) -> float:
    return ciede2000(lab(simulate(c1, vision)), lab(simulate(c2, vision)))


def worst_pair(colours: dict) -> tuple[float, str, str, str]:
    """The closest pair of `colours` over normal vision and the three simulations."""
    names = list(colours)
    return min(
        (delta(colours[a], colours[b], vision), a, b, str(vision))
        for vision in VISIONS
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    )


# ------------------------------------------------------------------------------------------------
# the instruments

# Sharma, Wu and Dalal (2005), Table 1: pairs 1, 7, 17, 18, 19, 20 and 25 with their CIEDE2000.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (61.0, -5.0, 29.0), 22.8977),
    ((50.0, 2.5, 0.0), (56.0, -27.0, -3.0), 31.9030),
    ((50.0, 2.5, 0.0), (58.0, 24.0, 15.0), 19.4535),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
]


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA)
def test_ciede2000_matches_sharma_test_data(lab1, lab2, expected):
    assert ciede2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)
    assert ciede2000(lab2, lab1) == pytest.approx(expected, abs=1e-4)


def test_lab_of_srgb_primaries():
    # published CIELAB (D65) of sRGB white and red: L* 100; red (53.24, 80.09, 67.20)
    assert lab(linear([1, 1, 1])) == pytest.approx([100, 0, 0], abs=0.01)
    assert lab(linear([1, 0, 0])) == pytest.approx([53.24, 80.09, 67.20], abs=0.05)


@pytest.mark.parametrize("vision", list(MACHADO))
def test_simulation_keeps_greys(vision):
    # every row of Machado's matrices sums to 1: a deficiency does not change greys
    for grey in ("#ffffff", "#777777", "#000000"):
        assert simulate(grey, vision) == pytest.approx(linear(matplotlib.colors.to_rgb(grey)), abs=1e-5)


def test_the_check_rejects_a_red_green_pair():
    """The palette check can fail: the usual red/green "bad/good" pair collapses for deuteranopes."""
    red, green = "#d62728", "#2ca02c"  # matplotlib's tab:red and tab:green
    assert delta(red, green, None) > 50  # very different with normal vision
    worst = worst_pair({"red": red, "green": green})
    assert worst[0] < CATEGORICAL_DE, worst  # ... and not for everyone
    assert worst[3] == "deuteranopia"


# ------------------------------------------------------------------------------------------------
# the grammar


def test_role_colours_apart_under_every_simulation():
    worst = worst_pair(g.ROLES)
    assert worst[0] >= CATEGORICAL_DE, f"{worst[1]} and {worst[2]} only {worst[0]:.1f} apart ({worst[3]})"


def test_same_and_changed_apart_in_colour_and_in_grey():
    worst = worst_pair({"same": g.SAME, "changed": g.CHANGED})
    assert worst[0] >= CATEGORICAL_DE, worst
    for vision in VISIONS:
        light = [lab(simulate(c, vision))[0] for c in (g.SAME, g.CHANGED)]
        assert abs(light[0] - light[1]) >= GREY_L, (vision, light)
    assert g.CHANGED_HATCH  # and a shape: "changed" is hatched


def _samples(cmap_name: str, n: int = 129):
    cmap = matplotlib.colormaps[cmap_name]
    return [cmap(t)[:3] for t in np.linspace(0, 1, n)]


@pytest.mark.parametrize("vision", VISIONS)
def test_signed_map_lightness_rises_to_zero_from_both_sides(vision):
    light = np.array([lab(simulate(c, vision))[0] for c in _samples(g.SIGNED_CMAP)])
    middle = len(light) // 2
    assert np.all(np.diff(light[: middle + 1]) > 0), "negative side not monotone"
    assert np.all(np.diff(light[middle:]) < 0), "positive side not monotone"
    assert light[middle] > 90  # zero is (nearly) white


@pytest.mark.parametrize("vision", VISIONS)
def test_signed_map_signs_apart(vision):
    cmap = matplotlib.colormaps[g.SIGNED_CMAP]
    for t in (0.0, 0.1, 0.2):  # equal |value| on both sides, from the extremes to 60 % of them
        d = delta(cmap(t)[:3], cmap(1 - t)[:3], vision)
        assert d >= SIGNS_DE, (t, d)


def test_signed_maps_are_one_map():
    assert g.SIGNED_OUTPUT_CMAP == g.SIGNED_KERNEL_CMAP == g.SIGNED_CMAP


@pytest.mark.parametrize("name", ["INPUT_CMAP", "KERNEL_CMAP", "OUTPUT_CMAP"])
@pytest.mark.parametrize("vision", VISIONS)
def test_sequential_maps_darken_steadily(name, vision):
    light = np.array([lab(simulate(c, vision))[0] for c in _samples(getattr(g, name))])
    assert np.all(np.diff(light) < 0), name


def test_sequential_maps_are_their_role_colour():
    # the map of a role passes through the role's colour (legend and cells agree)
    for name, colour in [("INPUT_CMAP", g.INPUT), ("KERNEL_CMAP", g.WINDOW), ("OUTPUT_CMAP", g.OUTPUT)]:
        samples = np.array(_samples(getattr(g, name), 1025))
        target = np.array(matplotlib.colors.to_rgb(colour))
        assert np.abs(samples - target).sum(axis=1).min() < 0.02, name


# ------------------------------------------------------------------------------------------------
# one grammar: the figure modules take their colours from it

# every drawing module of the docs (the grammar itself and the package's __init__ aside)
FIGURE_MODULES = sorted(
    p.stem for p in (ROOT / "docs" / "figures").glob("*.py") if p.stem not in ("grammar", "__init__")
)


@pytest.mark.parametrize("module", FIGURE_MODULES)
def test_figure_modules_use_the_grammar_colours(module):
    source = (ROOT / "docs" / "figures" / f"{module}.py").read_text()
    hex_colours = re.findall(r"[\"']#[0-9a-fA-F]{3,8}[\"']", source)
    named_maps = re.findall(r"cmap=[\"'](\w+)[\"']", source)
    assert not hex_colours, f"{module}.py draws with its own colours {hex_colours}: use figures.grammar's"
    # grey ramps show brightness itself (an image's planes, a blur): the only maps allowed by name
    assert set(named_maps) <= {"gray", "gray_r"}, f"{module}.py uses colour maps {named_maps}"


def test_favicon_is_drawn_in_the_grammar():
    svg = (ROOT / "docs" / "_static" / "favicon.svg").read_text()
    assert g.WINDOW.lower() in svg.lower()
    assert "<text" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
