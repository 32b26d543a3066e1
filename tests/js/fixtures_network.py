"""Fixtures of the draw-a-digit page's JavaScript (preprocess.js, network.js), written by convops.

Run as ``python tests/js/fixtures_network.py OUTDIR``; writes into OUTDIR:

* ``preprocess.json`` -- drawings as a canvas holds them (ink 0..255, any width and height) and
  :func:`preprocess` of each: MNIST's normalisation, written here in plain NumPy as the readable
  twin of preprocess.js.
* ``network_model.json`` + ``network_model.bin`` -- the network the page runs, in the format the
  site build writes (``docs/_ext/explorer_assets.py``), and ``network.json`` -- inputs (real test
  digits, a pre-processed drawing, uniform noise) with every layer's output computed by
  :mod:`convops.nn`, and the receptive fields of :func:`convops.arithmetic.receptive_fields`.

The weights: the docs build's trained network when its cache (``docs/_generated``) is present;
otherwise the same network trained here for one epoch (250 steps) with a fixed seed (the test is
about the forward pass: any weights do, and trained ones give realistic activations).
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "docs"), str(ROOT / "docs" / "_ext")]

BOX = 20  # MNIST: the digit's bounding box is scaled to fit 20 x 20 ...
SIDE = 28  # ... and centred by its centre of mass in 28 x 28


# --------------------------------------------------------------------------- MNIST's preprocessing


def round_half_up(x: float) -> int:
    """``floor(x + 0.5)``: JavaScript's Math.round (NumPy's rounds halves to even)."""
    return int(np.floor(x + 0.5))


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)``: output pixel ``i`` averages the input interval
    ``[i * n_in / n_out, (i + 1) * n_in / n_out)``, each input pixel weighted by its overlap.
    Area averaging is the anti-aliasing: a thin stroke becomes a grey one, not a broken one."""
    step = n_in / n_out
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = i * step, (i + 1) * step
        for r in range(int(np.floor(lo)), min(int(np.ceil(hi)), n_in)):
            weights[i, r] = (min(hi, r + 1) - max(lo, r)) / step
    return weights


def preprocess(ink: np.ndarray) -> np.ndarray | None:
    """A drawing ``(H, W)`` of ink 0..255 -> the network's ``(28, 28)`` input in [0, 1], as LeCun
    made MNIST; ``None`` when there is no ink.

    1. crop to the bounding box of the inked pixels;
    2. scale it (area averaging) to fit 20 x 20, keeping its aspect ratio: the longer side
       becomes 20, the other ``round(20 * short / long)`` (at least 1);
    3. paste it into 28 x 28 so that its centre of mass falls on the centre (13.5, 13.5), moved
       by whole pixels and kept inside the 28 x 28.
    """
    ink = np.asarray(ink, dtype=np.float64) / 255
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return None
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    th, tw = max(1, round_half_up(h * scale)), max(1, round_half_up(w * scale))
    small = area_weights(h, th) @ crop @ area_weights(w, tw).T
    mass = small.sum()
    cy = (small.sum(axis=1) @ np.arange(th)) / mass
    cx = (small.sum(axis=0) @ np.arange(tw)) / mass
    top = min(max(round_half_up((SIDE - 1) / 2 - cy), 0), SIDE - th)
    left = min(max(round_half_up((SIDE - 1) / 2 - cx), 0), SIDE - tw)
    out = np.zeros((SIDE, SIDE))
    out[top : top + th, left : left + tw] = small
    return out.astype(np.float32)


# --------------------------------------------------------------------------- drawings


def stroke(height: int, width: int, points, radius: float) -> np.ndarray:
    """Ink 0..255 of a round pen of ``radius`` along a polyline, with a one-pixel soft edge (as a
    canvas anti-aliases): the drawings the tests feed to both implementations."""
    yy, xx = np.mgrid[0:height, 0:width] + 0.5
    distance = np.full((height, width), np.inf)
    for (y0, x0), (y1, x1) in zip(points[:-1], points[1:]):
        dy, dx = y1 - y0, x1 - x0
        t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / max(dy * dy + dx * dx, 1e-12), 0, 1)
        distance = np.minimum(distance, np.hypot(yy - (y0 + t * dy), xx - (x0 + t * dx)))
    return np.round(np.clip(radius + 0.5 - distance, 0, 1) * 255).astype(np.uint8)


def drawings(digit: np.ndarray) -> dict[str, np.ndarray]:
    seven = stroke(140, 140, [(30, 35), (30, 100), (115, 55)], 6)
    upscaled = np.kron(digit, np.ones((5, 5), dtype=np.uint8))  # a real digit at canvas scale
    return {
        "seven": seven,
        "real digit x5": upscaled,
        "one, tall and thin": stroke(200, 120, [(20, 60), (180, 62)], 5),
        "dash, wide (20 x 2 after scaling)": stroke(100, 280, [(50, 20), (52, 260)], 4),
        "dot": stroke(60, 60, [(30, 30), (30, 30)], 2),
        "loop in a corner": stroke(150, 150, [(5, 100), (5, 140), (45, 140), (45, 100), (5, 100)], 3),
        "empty": np.zeros((40, 50), dtype=np.uint8),
    }


# --------------------------------------------------------------------------- the network


def trained_weights_model():
    """The docs' trained network if cached, else the tutorial's network trained briefly here."""
    from figures import mnist

    (x_train, y_train), _ = mnist.load_split()
    if mnist.cache_path().is_file():
        return mnist.trained_model(), "the docs build's trained network (docs/_generated cache)"
    from convops import nn

    nn.set_random_seed(0)
    model = mnist.build_model()
    model.fit(mnist.as_input(x_train), y_train, epochs=1, batch_size=32, verbose=0)  # 250 steps, a few seconds
    return model, "the tutorial's network trained here for one epoch (250 steps, seed 0)"


def layer_outputs(model, x: np.ndarray) -> list[np.ndarray]:
    """Every layer's output for one image ``(28, 28, 1)``, by convops' own layers."""
    outputs, value = [], x[None]
    for layer in model.layers:
        value = layer.forward(value)
        outputs.append(np.asarray(value[0], dtype=np.float32))
    return outputs


def floats(a: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


def network_fixture(model, x_test, y_test, drawing: np.ndarray) -> dict:
    from convops.arithmetic import receptive_fields

    rng = np.random.default_rng(0)
    cases = [(f"test digit {i} (label {int(y_test[i])})", x_test[i] / np.float32(255)) for i in (0, 1, 2)]
    cases += [("pre-processed drawing", drawing), ("uniform noise", rng.random((28, 28), dtype=np.float32))]
    inputs = []
    for name, image in cases:
        x = np.asarray(image, dtype=np.float32).reshape(28, 28, 1)
        outs = layer_outputs(model, x)
        inputs.append(
            {
                "name": name,
                "input": floats(x),
                "layers": [
                    {"name": layer.name, "shape": list(o.shape), "data": floats(o)}
                    for layer, o in zip(model.layers, outs)
                ],
                "predicted": int(np.argmax(outs[-1])),
            }
        )
    geometry = [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)]  # the spatial layers, in order
    fields = [{"size": f.size, "jump": f.jump, "start": f.start} for f in receptive_fields(geometry)]
    return {"inputs": inputs, "receptive_fields": fields}


def main(outdir: str) -> None:
    from explorer_assets import model_assets

    from figures import mnist

    out = pathlib.Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    (_, _), (x_test, y_test) = mnist.load_split()
    cases = []
    for name, ink in drawings(x_test[3]).items():
        result = preprocess(ink)
        cases.append(
            {
                "name": name,
                "height": ink.shape[0],
                "width": ink.shape[1],
                "ink": ink.reshape(-1).tolist(),
                "expected": None if result is None else floats(result),
            }
        )
    (out / "preprocess.json").write_text(json.dumps({"cases": cases}))

    model, source = trained_weights_model()
    description, data = model_assets(model)
    description["bin"] = "network_model.bin"
    description["source"] = source
    (out / "network_model.json").write_text(json.dumps(description))
    (out / "network_model.bin").write_bytes(data)
    drawn = preprocess(drawings(x_test[3])["seven"])
    (out / "network.json").write_text(json.dumps(network_fixture(model, x_test, y_test, drawn)))
    print(f"fixtures_network: {len(cases)} drawings, 5 network inputs ({source}) -> {out}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/js/fixtures_network.py OUTDIR")
    main(sys.argv[1])
