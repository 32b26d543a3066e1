// network.js (the tutorial's network on ops.js) against convops.nn: every layer's output on real
// test digits, a pre-processed drawing and noise, with the weights and model format the site uses
// (fixtures written by tests/js/fixtures_network.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parseModel, forward, receptiveBox, unitArithmetic } from "../../docs/_static/explorer/network.js";

const TOLERANCE = 1e-5; // max abs error relative to the layer's largest magnitude

function fixturePath(name) {
  const dir = process.env.CONVOPS_JS_FIXTURES;
  assert.ok(dir, "CONVOPS_JS_FIXTURES is not set: run scripts/js_test.sh (it writes the fixtures first)");
  const path = join(dir, name);
  assert.ok(existsSync(path), `${path} is missing: tests/js/fixtures_network.py writes it`);
  return path;
}

const description = JSON.parse(readFileSync(fixturePath("network_model.json"), "utf8"));
const bytes = readFileSync(fixturePath("network_model.bin"));
const bin = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
const { inputs, receptive_fields: fields } = JSON.parse(readFileSync(fixturePath("network.json"), "utf8"));
const model = await parseModel(description, bin);

function relativeError(got, want) {
  let worst = 0, scale = 0, where = -1;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    const err = Math.abs(got[i] - want[i]);
    if (err > worst) { worst = err; where = i; }
  }
  return { relative: worst / Math.max(scale, 1e-30), worst, scale, where };
}

test("the model is the tutorial's: seven layers, 104,202 weights, checksum verified", () => {
  assert.deepEqual(model.layers.map((l) => l.type), ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense"]);
  assert.deepEqual(model.layers.map((l) => l.outputShape), [[26, 26, 32], [13, 13, 32], [11, 11, 64], [5, 5, 64], [3, 3, 128], [1152], [10]]);
  assert.equal(description.byte_length, 104202 * 4);
  assert.equal(model.verified, true, "node has Web Crypto: the SHA-256 must have been checked");
});

test("a corrupted model.bin is refused (SHA-256)", async () => {
  const copy = bin.slice(0);
  new Uint8Array(copy)[100] ^= 1;
  await assert.rejects(parseModel(description, copy), /SHA-256/);
  await assert.rejects(parseModel(description, copy.slice(0, 8)), /bytes/);
});

const worstPerLayer = new Map();
for (const item of inputs) {
  test(`every layer matches convops.nn: ${item.name}`, () => {
    const result = forward(model, Float32Array.from(item.input));
    item.layers.forEach((want, k) => {
      const got = result.activations[k];
      assert.deepEqual(got.shape, want.shape, `${want.name}: shape`);
      const e = relativeError(got.data, want.data);
      worstPerLayer.set(want.name, Math.max(worstPerLayer.get(want.name) || 0, e.relative));
      assert.ok(e.relative <= TOLERANCE, `${want.name}: max abs error ${e.worst} at ${e.where}, scale ${e.scale}`);
    });
    assert.equal(result.predicted, item.predicted);
  });
}

test("the first convolution's arithmetic adds up to the layer's output", () => {
  const result = forward(model, Float32Array.from(inputs[0].input));
  const conv = model.layers[0];
  for (const [y, x, k] of [[0, 0, 0], [12, 13, 5], [25, 25, 31]]) {
    const unit = unitArithmetic(conv, result.input, y, x, k);
    assert.equal(unit.terms.length, 9);
    const want = inputs[0].layers[0].data[(y * 26 + x) * 32 + k];
    assert.ok(Math.abs(unit.output - want) <= 1e-5 * Math.max(1, Math.abs(want)), `unit (${y}, ${x}, ${k}): ${unit.output} vs ${want}`);
  }
  const deep = unitArithmetic(model.layers[2], result.activations[1], 4, 7, 9);
  assert.equal(deep.terms.length, 3 * 3 * 32);
  assert.ok(Math.abs(deep.output - inputs[0].layers[2].data[(4 * 11 + 7) * 64 + 9]) <= 1e-5);
});

test("receptive boxes follow convops.arithmetic.receptive_fields", () => {
  const spatial = [0, 1, 2, 3, 4];
  for (const index of spatial) {
    const f = fields[index];
    const side = model.layers[index].outputShape[0];
    for (const i of [0, Math.floor(side / 2), side - 1]) {
      const box = receptiveBox(model, index, i, i);
      const centre = f.start + i * f.jump;
      assert.equal(box.top, centre - (f.size - 1) / 2);
      assert.equal(box.bottom - box.top + 1, f.size);
      assert.deepEqual(box.size, [f.size, f.size]);
    }
  }
  assert.deepEqual(receptiveBox(model, 4, 2, 1), { top: 8, left: 4, bottom: 25, right: 21, size: [18, 18] });
});

test("report: max relative error per layer", () => {
  assert.equal(worstPerLayer.size, 7);
  for (const [name, err] of worstPerLayer) console.log(`# ${name}: max abs error / layer scale = ${err.toExponential(2)}`);
});
