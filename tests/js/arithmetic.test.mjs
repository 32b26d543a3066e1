// docs/_static/explorer/arithmetic.js against convops.arithmetic: every case that
// tests/js/fixtures_arithmetic.py recorded (values, and the kind of error for bad arguments).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as arithmetic from "../../docs/_static/explorer/arithmetic.js";

function loadFixtures() {
  const dir = process.env.CONVOPS_JS_FIXTURES;
  if (!dir) {
    throw new Error("CONVOPS_JS_FIXTURES is not set: run scripts/js_test.sh, which writes the fixtures first");
  }
  // A missing file throws here: the test fails rather than skips.
  return JSON.parse(readFileSync(join(dir, "arithmetic.json"), "utf8"));
}

const fixtures = loadFixtures();

// Python's ValueError is JavaScript's RangeError; TypeError is TypeError.
const KIND = { ValueError: "RangeError", TypeError: "TypeError" };

/** An error message without the value received, whose text differs between the languages
 * ((1, 2) against [1, 2], str against string): the arguments blamed and the rule. */
function rule(message) {
  return message.replace(/[;:] got .*$/s, "").replace(/: '.*$/s, "");
}

/** The Python call, for failure messages a reader can paste into Python. */
function pythonCall(name, args) {
  return name + "(" + args.map((a) => JSON.stringify(a)).join(", ") + ")";
}

/** Run every case of one function; return the list of mismatches (empty when all agree). */
function check(name, cases) {
  const fn = arithmetic[name];
  assert.equal(typeof fn, "function", name + " is not exported by arithmetic.js");
  const failures = [];
  for (const [args, expected] of cases) {
    let got;
    try {
      got = { value: fn(...args) };
    } catch (error) {
      got = { error: error.constructor.name, message: error.message };
    }
    const where = pythonCall(name, args);
    if ("value" in expected) {
      if (!("value" in got)) {
        failures.push(where + ": Python gave " + JSON.stringify(expected.value) + ", JS threw " + got.message);
      } else if (JSON.stringify(got.value) !== JSON.stringify(expected.value)) {
        failures.push(where + ": Python gave " + JSON.stringify(expected.value) + ", JS " + JSON.stringify(got.value));
      }
    } else if (!("error" in got)) {
      failures.push(where + ": Python raised " + expected.error + ", JS returned " + JSON.stringify(got.value));
    } else if (got.error !== KIND[expected.error]) {
      failures.push(where + ": Python raised " + expected.error + ", JS " + got.error + ": " + got.message);
    } else if (rule(got.message) !== rule(expected.message)) {
      failures.push(where + ": Python said " + expected.message + " | JS said " + got.message);
    }
  }
  return failures;
}

const FUNCTIONS = [
  "effectiveKernelSize",
  "samePadding",
  "resolvePadding",
  "convOutputSize",
  "inputSizeRange",
  "poolOutputSize",
  "receptiveFields",
  "receptiveField",
  "conv2dParams",
  "denseParams",
  "conv2dFlops",
];

for (const name of FUNCTIONS) {
  test(name + " agrees with convops.arithmetic on every recorded case", () => {
    const cases = fixtures[name];
    assert.ok(Array.isArray(cases) && cases.length > 0, "no fixtures for " + name);
    const failures = check(name, cases);
    assert.deepEqual(failures.slice(0, 20), [], failures.length + " of " + cases.length + " cases differ");
  });
}

test("every function of arithmetic.js has fixtures, and the grid is exhaustive", () => {
  const total = FUNCTIONS.reduce((sum, name) => sum + fixtures[name].length, 0);
  assert.ok(total > 50000, "only " + total + " cases");
  const exported = Object.keys(arithmetic).filter((n) => n !== "transposedOutputSizeRange").sort();
  assert.deepEqual(exported, [...FUNCTIONS].sort());
});

test("transposedOutputSizeRange is exactly the sizes convops.conv2d_transpose accepts", () => {
  const cases = fixtures.transposedOutputSizes;
  assert.ok(cases.length > 1000);
  const failures = [];
  for (const [[i, k, s, padding, d], accepted] of cases) {
    const { start, stop } = arithmetic.transposedOutputSizeRange(i, k, s, padding, d);
    const sizes = Array.from({ length: stop - start }, (_, n) => start + n);
    if (JSON.stringify(sizes) !== JSON.stringify(accepted)) {
      failures.push(pythonCall("conv2d_transpose sizes", [i, k, s, padding, d]) + ": op accepts " +
        JSON.stringify(accepted) + ", JS says " + JSON.stringify(sizes));
    }
  }
  assert.deepEqual(failures.slice(0, 20), [], failures.length + " of " + cases.length + " geometries differ");
});

test("padding defaults to SAME for a transposed convolution, as in tf.nn.conv2d_transpose", () => {
  // SAME stride 2 maps sizes 3 and 4 to 2 (convops.conv2d_transpose's docstring example).
  assert.deepEqual(arithmetic.transposedOutputSizeRange(2, 3, 2), { start: 3, stop: 5 });
});
