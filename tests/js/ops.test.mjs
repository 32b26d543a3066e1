// docs/_static/explorer/ops.js against convops: every case of tests/js/fixtures_ops.py (inputs and
// convops' outputs, in $CONVOPS_JS_FIXTURES/ops.json) is run through the JavaScript op and compared.
// A case passes when the shapes are equal and the max abs error is <= 1e-5 of the output's scale
// (max |expected|, or 1 when that is smaller); NaN must be NaN; the ops that only copy or compare
// values must be bit-exact. Run: scripts/js_test.sh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";

import * as ops from "../../docs/_static/explorer/ops.js";

const TOLERANCE = 1e-5;
// Ops that only copy or compare values: compared bit for bit (signed zeros and NaN included), as the
// project compares padding and pooling.
const EXACT = new Set(["pad", "relu", "maxPool2d", "flatten"]);

function loadFixtures() {
  const dir = process.env.CONVOPS_JS_FIXTURES;
  assert.ok(dir, "CONVOPS_JS_FIXTURES is not set: run scripts/js_test.sh, which writes the fixtures first");
  const file = path.join(dir, "ops.json");
  assert.ok(existsSync(file), `${file} is missing: run python tests/js/fixtures_ops.py ${dir}`);
  return JSON.parse(readFileSync(file, "utf8")).cases;
}

/** JSON numbers, with the strings "NaN" / "Infinity" / "-Infinity" of non-finite floats. */
function numbers(values) {
  return Float32Array.from(values, Number);
}

function fixtureTensor(t) {
  return ops.tensor(t.shape, numbers(t.data));
}

/** Run one fixture case through ops.js; returns {shape, data}. */
function run(c) {
  switch (c.op) {
    case "pad":
      return ops.pad(fixtureTensor(c.x), c.paddings, c.mode, c.constantValue);
    case "conv2d":
      return ops.conv2d(fixtureTensor(c.x), fixtureTensor(c.w), c.bias && numbers(c.bias), c.options);
    case "maxPool2d":
      return ops.maxPool2d(fixtureTensor(c.x), c.options);
    case "avgPool2d":
      return ops.avgPool2d(fixtureTensor(c.x), c.options);
    case "relu":
      return ops.relu(fixtureTensor(c.x));
    case "flatten": {
      const v = ops.flatten(fixtureTensor(c.x));
      return { shape: [v.length], data: v };
    }
    case "dense": {
      const v = ops.dense(numbers(c.vector), fixtureTensor(c.w), numbers(c.b));
      return { shape: [v.length], data: v };
    }
    case "softmax": {
      const v = ops.softmax(numbers(c.vector));
      return { shape: [v.length], data: v };
    }
    default:
      throw new Error(`unknown op in the fixtures: ${c.op}`);
  }
}

/** Max abs error of `got` against `want`, relative to max(max |want|, 1); NaN where NaN is expected. */
function relativeError(got, want) {
  let scale = 1;
  for (const v of want) {
    if (Number.isFinite(v)) {
      scale = Math.max(scale, Math.abs(v));
    }
  }
  let worst = 0;
  let where = -1;
  for (let i = 0; i < want.length; i++) {
    const [g, w] = [got[i], want[i]];
    const err = Number.isNaN(w) || !Number.isFinite(w) ? (Object.is(g, w) || g === w ? 0 : Infinity) : Math.abs(g - w);
    if (!(err <= worst)) {
      worst = err;
      where = i;
    }
  }
  return { error: worst / scale, where };
}

const cases = loadFixtures();
const worstByOp = new Map();

for (const c of cases) {
  test(`${c.op}: ${c.name}`, () => {
    const got = run(c);
    const want = numbers(c.expected.data);
    assert.deepEqual(got.shape, c.expected.shape, "output shape");
    const { error, where } = relativeError(got.data, want);
    worstByOp.set(c.op, Math.max(worstByOp.get(c.op) || 0, error));
    if (EXACT.has(c.op)) {
      const first = want.findIndex((w, i) => !Object.is(w, got.data[i]));
      assert.equal(first, -1, `not bit-exact at flat index ${first}: got ${got.data[first]}, convops ${want[first]}`);
    }
    assert.ok(
      error <= TOLERANCE,
      `max relative error ${error} > ${TOLERANCE} at flat index ${where}: ` +
        `got ${got.data[where]}, convops ${want[where]}`
    );
  });
}

test("the fixtures cover every op and padding mode", () => {
  const opsSeen = new Set(cases.map((c) => c.op));
  for (const op of ["pad", "conv2d", "maxPool2d", "avgPool2d", "relu", "flatten", "dense", "softmax"]) {
    assert.ok(opsSeen.has(op), `no fixture for ${op}`);
  }
  const modes = new Set(cases.filter((c) => c.op === "pad").map((c) => c.mode));
  const convModes = new Set(cases.filter((c) => c.op === "conv2d").map((c) => c.options.padMode));
  for (const mode of ops.PAD_MODES) {
    assert.ok(modes.has(mode) && convModes.has(mode), `no pad or conv2d fixture for ${mode}`);
  }
});

// Hand-checked rules (no oracle needed): the errors that the filter lab relies on to show a message.
test("bad arguments throw errors that name the argument", () => {
  const x = ops.tensor([3, 3, 1]);
  assert.throws(() => ops.pad(x, [[3, 0], [0, 0]], "REFLECT"), /REFLECT padding of the height must be <= 2/);
  assert.throws(() => ops.pad(x, [[0, 0], [0, 4]], "SYMMETRIC"), /SYMMETRIC padding of the width must be <= 3/);
  assert.throws(() => ops.pad(x, [[1, 1], [1, 1]], "WRAP"), /`mode` must be one of/);
  assert.throws(() => ops.conv2d(x, ops.tensor([3, 3, 2, 1])), /C_in == 1/);
  assert.throws(() => ops.conv2d(x, ops.tensor([3, 3, 1, 1]), null, { strides: 0 }), /`strides`/);
  assert.throws(() => ops.conv2d(x, ops.tensor([3, 3, 1, 1]), null, { padding: "FULL" }), /`padding`/);
  assert.throws(() => ops.maxPool2d(x, { ksize: 2, padding: [[2, 0], [0, 0]] }), /smaller than the window/);
  assert.throws(() => ops.tensor([2, 2], [1, 2, 3]), /4 values/);
  assert.throws(() => ops.dense(new Float32Array(3), ops.tensor([4, 2])), /4 values/);
});

test("max error of ops.js against convops, per op", (t) => {
  for (const [op, error] of [...worstByOp].sort()) {
    t.diagnostic(`${op}: max abs error / output scale = ${error.toExponential(2)}`);
  }
  assert.ok(worstByOp.size > 0);
});
