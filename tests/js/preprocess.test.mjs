// preprocess.js (MNIST's normalisation of a drawing) against its NumPy twin in
// tests/js/fixtures_network.py, on drawings rasterised once in Python and read by both.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { preprocess, boundingBox, inkFromImageData } from "../../docs/_static/explorer/preprocess.js";

function fixture(name) {
  const dir = process.env.CONVOPS_JS_FIXTURES;
  assert.ok(dir, "CONVOPS_JS_FIXTURES is not set: run scripts/js_test.sh (it writes the fixtures first)");
  const path = join(dir, name);
  assert.ok(existsSync(path), `${path} is missing: tests/js/fixtures_network.py writes it`);
  return JSON.parse(readFileSync(path, "utf8"));
}

const { cases } = fixture("preprocess.json");

test("the fixtures hold drawings with ink and an empty one", () => {
  assert.ok(cases.length >= 5);
  assert.ok(cases.some((c) => c.expected === null));
  assert.ok(cases.filter((c) => c.expected !== null).length >= 4);
});

for (const c of cases) {
  test(`preprocess matches NumPy: ${c.name} (${c.height} x ${c.width})`, () => {
    const got = preprocess({ width: c.width, height: c.height, data: Uint8Array.from(c.ink) });
    if (c.expected === null) {
      assert.equal(got, null, "an empty drawing gives null");
      return;
    }
    assert.equal(got.image.length, 784);
    let worst = 0, where = -1;
    for (let i = 0; i < 784; i++) {
      const err = Math.abs(got.image[i] - c.expected[i]);
      if (err > worst) { worst = err; where = i; }
    }
    assert.ok(worst <= 1e-6, `max abs error ${worst} at row ${Math.floor(where / 28)}, column ${where % 28}`);
    // MNIST's geometry, checked on the result itself: the box fits 20 x 20 with one side 20.
    const box = boundingBox({ width: 28, height: 28, data: got.image });
    assert.ok(Math.max(box.height, box.width) <= 20);
    assert.equal(Math.max(got.scaled.height, got.scaled.width), 20);
  });
}

test("inkFromImageData reads the alpha channel, whatever the colour", () => {
  const rgba = new Uint8ClampedArray([255, 255, 255, 10, 0, 0, 0, 200, 30, 60, 90, 0]);
  const ink = inkFromImageData({ width: 3, height: 1, data: rgba });
  assert.deepEqual(Array.from(ink.data), [10, 200, 0]);
});
