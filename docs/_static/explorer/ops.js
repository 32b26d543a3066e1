/* The forward ops of a small convolutional network, in plain JavaScript, with convops' semantics
 * (which are TensorFlow's). The explorer pages run them in the browser; tests/js/ops.test.mjs checks
 * every one of them against convops on fixtures that convops computes.
 *
 * Tensors are one image, `{shape: [H, W, C], data: Float32Array}`, row-major with the channels
 * fastest (NHWC with N = 1 dropped): element (y, x, c) is `data[(y * W + x) * C + c]`.
 * Filters are HWIO, `{shape: [KH, KW, C_in, C_out], data}`: tap (ky, kx, ci, co) is
 * `data[((ky * KW + kx) * C_in + ci) * C_out + co]`.
 * Sums are accumulated in JavaScript numbers (float64) and stored as float32, so the results agree
 * with convops' float32 results to about one float32 rounding, whatever its summation order.
 *
 * The padding arithmetic (SAME's split, output sizes) is not repeated here: it comes from
 * arithmetic.js, the port of convops.arithmetic that the arithmetic playground tests.
 */
import { resolvePadding, convOutputSize, poolOutputSize } from "./arithmetic.js";

/** The modes of convops.pad, in its spelling. */
export const PAD_MODES = ["CONSTANT", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR", "MEAN"];

/** The lowest finite float32: what a max-pool window without any number gives (TensorFlow's CPU rule). */
const LOWEST_FLOAT32 = -3.4028234663852886e38;

// ---------------------------------------------------------------------------------------------
// tensors and argument checks

function isCount(n) {
  return Number.isInteger(n) && n >= 0;
}

/**
 * A tensor of the given shape: a copy of `data` as float32, or zeros when it is omitted.
 * @param {number[]} shape  sizes, each an integer >= 0 (usually [H, W, C])
 * @param {ArrayLike<number>} [data]  shape[0] * shape[1] * ... values, row-major
 * @returns {{shape: number[], data: Float32Array}}
 */
export function tensor(shape, data) {
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new TypeError(`tensor: \`shape\` must be an array of integers >= 0; got ${JSON.stringify(shape)}`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (data === undefined || data === null) {
    return { shape: shape.slice(), data: new Float32Array(size) };
  }
  if (data.length !== size) {
    throw new RangeError(`tensor: \`data\` must have ${size} values for shape [${shape}]; got ${data.length}`);
  }
  return { shape: shape.slice(), data: Float32Array.from(data) };
}

/** Throw unless `x` is a tensor of rank `rank` whose data has the shape's size. */
function checkTensor(x, name, rank, op) {
  if (!x || !Array.isArray(x.shape) || x.shape.length !== rank || !x.shape.every(isCount)) {
    const got = x && x.shape ? `[${x.shape}]` : typeof x;
    throw new TypeError(`${op}: \`${name}\` must be a tensor of rank ${rank}; got shape ${got}`);
  }
  const size = x.shape.reduce((a, b) => a * b, 1);
  if (!x.data || x.data.length !== size) {
    throw new RangeError(`${op}: \`${name}\`.data must have ${size} values for shape [${x.shape}]`);
  }
}

/** `[h, w]` from an int or a pair of ints >= 1 (strides, dilations, window sizes). */
function positivePair(value, name, op) {
  const pair = Array.isArray(value) ? value : [value, value];
  if (pair.length !== 2 || !pair.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new RangeError(`${op}: \`${name}\` must be an integer >= 1 or a pair of them; got ${JSON.stringify(value)}`);
  }
  return pair;
}

/**
 * The padding of one axis (0 = height, 1 = width) in arithmetic.js's form: "VALID", "SAME" or
 * [before, after]. Explicit padding is `[[top, bottom], [left, right]]`.
 */
function axisPadding(padding, axis, op) {
  if (typeof padding === "string") {
    const mode = padding.toUpperCase();
    if (mode === "VALID" || mode === "SAME") {
      return mode;
    }
  } else if (
    Array.isArray(padding) &&
    padding.length === 2 &&
    padding.every((p) => Array.isArray(p) && p.length === 2 && p.every(isCount))
  ) {
    return padding[axis].slice();
  }
  throw new RangeError(
    `${op}: \`padding\` must be "VALID", "SAME" or [[top, bottom], [left, right]] of integers >= 0; ` +
      `got ${JSON.stringify(padding)}`
  );
}

// ---------------------------------------------------------------------------------------------
// padding

/**
 * Where output position `i` of a padded axis reads from: an input index, or -1 for a constant.
 * The table of convops.padding_index, e.g. [a b c] padded 2/2:
 *   REFLECT c b a b c b a · SYMMETRIC b a a b c c b · EDGE a a a b c c c · CIRCULAR b c a b c a b
 */
function sourceIndex(i, size, before, mode) {
  let k = i - before;
  if (k >= 0 && k < size) {
    return k;
  }
  if (mode === "CONSTANT" || mode === "MEAN") {
    return -1;
  }
  if (mode === "REFLECT") {
    k = Math.abs(k);
    return k >= size ? 2 * (size - 1) - k : k;
  }
  if (mode === "SYMMETRIC") {
    k = k < 0 ? -k - 1 : k;
    return k >= size ? 2 * size - 1 - k : k;
  }
  if (mode === "EDGE") {
    return Math.min(Math.max(k, 0), size - 1);
  }
  return ((k % size) + size) % size; // CIRCULAR
}

/** Throw if `mode` cannot pad an axis of `size` by (before, after): the limits of convops.pad. */
function checkAxisPad(size, before, after, mode, axisName) {
  const limit = { REFLECT: size - 1, SYMMETRIC: size }[mode];
  if (limit !== undefined && Math.max(before, after) > limit) {
    throw new RangeError(
      `pad: ${mode} padding of ${axisName} must be <= ${limit} for size ${size}; got [${before}, ${after}]`
    );
  }
  if ((mode === "EDGE" || mode === "CIRCULAR" || mode === "MEAN") && size === 0 && before + after > 0) {
    throw new RangeError(`pad: ${mode} padding needs a non-empty ${axisName} to copy from; it has size 0`);
  }
}

/**
 * MEAN padding's border values: the mean over the padded axes, separately for every index of the
 * unpadded ones (convops.pad's rule). Returns a function (y, x, c) -> border value, where y or x
 * is the index along an unpadded axis (ignored along a padded one).
 */
function meanBorder(x, padH, padW) {
  const [h, w, c] = x.shape;
  const cells = (ys, xs, ch) => {
    let sum = 0;
    for (const y of ys) {
      for (const xx of xs) {
        sum += x.data[(y * w + xx) * c + ch];
      }
    }
    return Math.fround(sum / (ys.length * xs.length));
  };
  const range = (n) => Array.from({ length: n }, (_, i) => i);
  const table = new Map();
  return (y, xx, ch) => {
    const key = `${padH ? "*" : y},${padW ? "*" : xx},${ch}`;
    if (!table.has(key)) {
      table.set(key, cells(padH ? range(h) : [y], padW ? range(w) : [xx], ch));
    }
    return table.get(key);
  };
}

/**
 * Pad the height and width of an image, as convops.pad(x, [[top, bottom], [left, right], [0, 0]], mode).
 * Output shape: [top + H + bottom, left + W + right, C].
 * @param {{shape: number[], data: Float32Array}} x  [H, W, C]
 * @param {number[][]} paddings  [[top, bottom], [left, right]], integers >= 0
 * @param {string} [mode]  one of PAD_MODES, any case; REFLECT pads <= size - 1, SYMMETRIC <= size
 * @param {number} [constantValue]  the border of CONSTANT mode
 */
export function pad(x, paddings, mode = "CONSTANT", constantValue = 0) {
  checkTensor(x, "x", 3, "pad");
  const upper = typeof mode === "string" ? mode.toUpperCase() : mode;
  if (!PAD_MODES.includes(upper)) {
    throw new RangeError(`pad: \`mode\` must be one of ${PAD_MODES.join(", ")}; got ${JSON.stringify(mode)}`);
  }
  if (typeof paddings === "string") {
    throw new RangeError(`pad: \`paddings\` must be [[top, bottom], [left, right]]; got ${JSON.stringify(paddings)}`);
  }
  const [[top, bottom], [left, right]] = [axisPadding(paddings, 0, "pad"), axisPadding(paddings, 1, "pad")];
  const [h, w, c] = x.shape;
  checkAxisPad(h, top, bottom, upper, "the height");
  checkAxisPad(w, left, right, upper, "the width");
  const out = tensor([top + h + bottom, left + w + right, c]);
  const [oh, ow] = out.shape;
  const rows = Array.from({ length: oh }, (_, i) => sourceIndex(i, h, top, upper));
  const cols = Array.from({ length: ow }, (_, i) => sourceIndex(i, w, left, upper));
  const border = upper === "MEAN" ? meanBorder(x, top + bottom > 0, left + right > 0) : () => constantValue;
  for (let y = 0; y < oh; y++) {
    for (let xx = 0; xx < ow; xx++) {
      const sy = rows[y];
      const sx = cols[xx];
      for (let ch = 0; ch < c; ch++) {
        const value = sy >= 0 && sx >= 0 ? x.data[(sy * w + sx) * c + ch] : border(sy, sx, ch);
        out.data[(y * ow + xx) * c + ch] = value;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// convolution

/**
 * 2-D cross-correlation of one image with a bank of filters (plus a bias), as convops.conv2d
 * (tf.nn.conv2d); the kernel is not flipped:
 *
 *   out[y, x, o] = bias[o] + sum_{ky, kx, c} in_pad[y*sh + ky*dh, x*sw + kx*dw, c] * w[ky, kx, c, o]
 *
 * H_out = floor((H + top + bottom - ((KH - 1)*dh + 1)) / sh) + 1, or 0 when the kernel is larger
 * than the padded input (an empty result, as convops returns); the same for W.
 *
 * @param {{shape: number[], data: Float32Array}} x  [H, W, C_in]
 * @param {{shape: number[], data: Float32Array}} w  [KH, KW, C_in, C_out]
 * @param {ArrayLike<number>|null} [bias]  C_out values, added to the float32 sum (as a layer does)
 * @param {object} [options]
 * @param {number|number[]} [options.strides]  [sh, sw], default 1
 * @param {string|number[][]} [options.padding]  "VALID", "SAME" (odd pixel bottom/right, as TF) or
 *   [[top, bottom], [left, right]]
 * @param {number|number[]} [options.dilations]  [dh, dw], default 1
 * @param {string} [options.padMode]  how the padding is filled: CONSTANT (zeros) or another mode of
 *   pad(); the image is then padded by pad() first and convolved VALID, as convops.pad + convops.conv2d.
 * @returns {{shape: number[], data: Float32Array}} [H_out, W_out, C_out]
 */
export function conv2d(x, w, bias = null, options = {}) {
  const { strides = [1, 1], padding = "VALID", dilations = [1, 1], padMode = "CONSTANT" } = options;
  checkTensor(x, "x", 3, "conv2d");
  checkTensor(w, "w", 4, "conv2d");
  const [h, wid, cin] = x.shape;
  const [kh, kw, wcin, cout] = w.shape;
  if (wcin !== cin) {
    throw new RangeError(`conv2d: \`w\` must have shape [KH, KW, C_in, C_out] with C_in == ${cin}; got [${w.shape}]`);
  }
  if (bias !== null && bias !== undefined && bias.length !== cout) {
    throw new RangeError(`conv2d: \`bias\` must have C_out = ${cout} values; got ${bias.length}`);
  }
  const [sh, sw] = positivePair(strides, "strides", "conv2d");
  const [dh, dw] = positivePair(dilations, "dilations", "conv2d");
  let [top, bottom] = resolvePadding(axisPadding(padding, 0, "conv2d"), h, kh, sh, dh);
  let [left, right] = resolvePadding(axisPadding(padding, 1, "conv2d"), wid, kw, sw, dw);
  let input = x;
  if (typeof padMode !== "string" || padMode.toUpperCase() !== "CONSTANT") {
    // Another border than zeros: materialise it, then the convolution pads nothing.
    input = pad(x, [[top, bottom], [left, right]], padMode);
    [top, bottom, left, right] = [0, 0, 0, 0];
  }
  const oh = convOutputSize(input.shape[0], kh, sh, [top, bottom], dh);
  const ow = convOutputSize(input.shape[1], kw, sw, [left, right], dw);
  const out = tensor([oh, ow, cout]);
  const sums = new Float64Array(cout);
  for (let y = 0; y < oh; y++) {
    for (let xx = 0; xx < ow; xx++) {
      sums.fill(0);
      accumulateWindow(input, w, y * sh - top, xx * sw - left, dh, dw, sums);
      for (let o = 0; o < cout; o++) {
        const z = Math.fround(sums[o]);
        out.data[(y * ow + xx) * cout + o] = bias ? Math.fround(z + bias[o]) : z;
      }
    }
  }
  return out;
}

/**
 * Add the window of `x` whose top-left tap is at (y0, x0) (possibly outside: zero padding) times
 * every filter of `w` into `sums[o]`.
 */
function accumulateWindow(x, w, y0, x0, dh, dw, sums) {
  const [h, wid, cin] = x.shape;
  const [kh, kw, , cout] = w.shape;
  for (let ky = 0; ky < kh; ky++) {
    const y = y0 + ky * dh;
    if (y < 0 || y >= h) {
      continue; // a zero of the padding
    }
    for (let kx = 0; kx < kw; kx++) {
      const xx = x0 + kx * dw;
      if (xx < 0 || xx >= wid) {
        continue;
      }
      const xBase = (y * wid + xx) * cin;
      const wBase = (ky * kw + kx) * cin * cout;
      for (let c = 0; c < cin; c++) {
        const v = x.data[xBase + c];
        for (let o = 0; o < cout; o++) {
          sums[o] += v * w.data[wBase + c * cout + o];
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// pooling

/**
 * The geometry shared by the two pools: window, strides, resolved padding, output size.
 * Explicit pads must be smaller than the window (convops' rule: a window of padding only has no value).
 */
function poolGeometry(x, options, op) {
  checkTensor(x, "x", 3, op);
  const ksize = positivePair(options.ksize === undefined ? [2, 2] : options.ksize, "ksize", op);
  const strides = positivePair(options.strides === undefined ? ksize : options.strides, "strides", op);
  const padding = options.padding === undefined ? "VALID" : options.padding;
  const pads = [0, 1].map((axis) => {
    const p = axisPadding(padding, axis, op);
    if (Array.isArray(p) && Math.max(...p) >= ksize[axis]) {
      throw new RangeError(`${op}: explicit pads must be smaller than the window (${ksize[axis]}); got [${p}]`);
    }
    return [resolvePadding(p, x.shape[axis], ksize[axis], strides[axis], 1), p];
  });
  const oh = poolOutputSize(x.shape[0], ksize[0], strides[0], pads[0][1]);
  const ow = poolOutputSize(x.shape[1], ksize[1], strides[1], pads[1][1]);
  return { ksize, strides, top: pads[0][0][0], left: pads[1][0][0], oh, ow };
}

/**
 * Visit every pool window: `reduce(values)` gets the real (unpadded) cells of one window and one
 * channel, in row-major order, and returns the output value.
 */
function pool(x, options, op, reduce) {
  const { ksize, strides, top, left, oh, ow } = poolGeometry(x, options, op);
  const [h, w, c] = x.shape;
  const out = tensor([oh, ow, c]);
  const values = [];
  for (let y = 0; y < oh; y++) {
    for (let xx = 0; xx < ow; xx++) {
      const y0 = y * strides[0] - top;
      const x0 = xx * strides[1] - left;
      for (let ch = 0; ch < c; ch++) {
        values.length = 0;
        for (let iy = Math.max(y0, 0); iy < Math.min(y0 + ksize[0], h); iy++) {
          for (let ix = Math.max(x0, 0); ix < Math.min(x0 + ksize[1], w); ix++) {
            values.push(x.data[(iy * w + ix) * c + ch]);
          }
        }
        out.data[(y * ow + xx) * c + ch] = reduce(values);
      }
    }
  }
  return out;
}

/**
 * Maximum over each KH x KW window, as convops.max_pool2d (tf.nn.max_pool2d).
 * H_out = floor((H + top + bottom - KH) / sh) + 1 (SAME: ceil(H / sh)); padded cells never win.
 * NaN is ignored, and a window without any number gives the lowest finite float32 (TF's CPU rule).
 * @param {{shape: number[], data: Float32Array}} x  [H, W, C]
 * @param {{ksize?: number|number[], strides?: number|number[], padding?: string|number[][]}} [options]
 *   ksize default [2, 2], strides default ksize, padding "VALID" | "SAME" | [[top, bottom], [left, right]]
 */
export function maxPool2d(x, options = {}) {
  return pool(x, options, "maxPool2d", (values) => {
    let best = LOWEST_FLOAT32;
    for (const v of values) {
      if (v > best) {
        best = v; // NaN > best is false: NaN is skipped
      }
    }
    return best;
  });
}

/**
 * Mean over the real cells of each KH x KW window, as convops.avg_pool2d (tf.nn.avg_pool2d):
 * padded cells are not counted. Same options and output size as maxPool2d.
 */
export function avgPool2d(x, options = {}) {
  return pool(x, options, "avgPool2d", (values) => {
    let sum = 0;
    for (const v of values) {
      sum += v;
    }
    return Math.fround(sum / values.length);
  });
}

// ---------------------------------------------------------------------------------------------
// the network's other layers

/**
 * max(x, 0) elementwise, as convops.nn.relu (numpy.maximum): NaN stays NaN, -0 becomes 0.
 * Same shape as `x`.
 */
export function relu(x) {
  checkTensor(x, "x", x && Array.isArray(x.shape) ? x.shape.length : 3, "relu");
  const out = tensor(x.shape);
  for (let i = 0; i < x.data.length; i++) {
    const v = x.data[i];
    out.data[i] = v > 0 || Number.isNaN(v) ? v : 0;
  }
  return out;
}

/**
 * The values of `x` as one vector of H * W * C, in HWC order: what convops.nn.Flatten gives for an
 * NHWC batch of one (so a Dense layer trained there reads its weights in the same order).
 * @returns {Float32Array}
 */
export function flatten(x) {
  return Float32Array.from(x.data);
}

/**
 * A fully connected layer without activation: out[j] = b[j] + sum_i vector[i] * w[i, j].
 * @param {ArrayLike<number>} vector  `in` values
 * @param {{shape: number[], data: Float32Array}} w  [in, out]
 * @param {ArrayLike<number>|null} [b]  `out` values
 * @returns {Float32Array} `out` values
 */
export function dense(vector, w, b = null) {
  checkTensor(w, "w", 2, "dense");
  const [inSize, outSize] = w.shape;
  if (!vector || vector.length !== inSize) {
    const got = vector ? vector.length : vector;
    throw new RangeError(`dense: \`vector\` must have ${inSize} values (w is [${w.shape}]); got ${got}`);
  }
  if (b !== null && b !== undefined && b.length !== outSize) {
    throw new RangeError(`dense: \`b\` must have ${outSize} values; got ${b.length}`);
  }
  const sums = new Float64Array(outSize);
  for (let i = 0; i < inSize; i++) {
    const v = vector[i];
    for (let j = 0; j < outSize; j++) {
      sums[j] += v * w.data[i * outSize + j];
    }
  }
  const out = new Float32Array(outSize);
  for (let j = 0; j < outSize; j++) {
    const z = Math.fround(sums[j]);
    out[j] = b ? Math.fround(z + b[j]) : z;
  }
  return out;
}

/**
 * exp(z - max z) / sum exp(z - max z): probabilities that sum to 1 (subtracting the maximum keeps
 * exp from overflowing and does not change the result), as convops.nn.softmax.
 * @param {ArrayLike<number>} vector
 * @returns {Float32Array}
 */
export function softmax(vector) {
  let max = -Infinity;
  for (const v of vector) {
    max = Math.max(max, v);
  }
  const e = Array.from(vector, (v) => Math.exp(v - max));
  const total = e.reduce((a, b) => a + b, 0);
  return Float32Array.from(e, (v) => v / total);
}
