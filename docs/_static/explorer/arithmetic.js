/* Convolution arithmetic: a line-for-line port of convops/arithmetic.py to a plain ES module.
 *
 * Output sizes, padding, receptive fields and parameter counts, with the same formulas, the same
 * argument checks in the same order, and errors of the same kind: where Python raises TypeError
 * this raises TypeError, and where Python raises ValueError this raises RangeError. Messages name
 * the argument, the rule and the value received, as the Python ones do. tests/js/arithmetic.test.mjs
 * checks every function against convops.arithmetic over an exhaustive grid of small cases.
 *
 * Symbols (the docs' and the op docstrings'):
 *   i      input size along one spatial axis (H or W)
 *   k      kernel (window) size along that axis
 *   s      stride
 *   d      dilation (1 = no dilation, as in TensorFlow)
 *   k_eff  effective kernel size (k - 1) * d + 1
 *   p      padding, a pair [before, after]
 *   o      output size
 *
 * One difference a JavaScript reader cannot avoid: JavaScript has one number type, so 3.0 is the
 * integer 3 here, while Python refuses the float 3.0.
 *
 * References: V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep learning",
 * arXiv:1603.07285 (2016); the CS231n notes on convolutional networks.
 */

/** Python-like text of a received value, for error messages ('SAME', [1, 2], null). */
function repr(value) {
  if (typeof value === "string") {
    return "'" + value + "'";
  }
  if (Array.isArray(value)) {
    return "[" + value.map(repr).join(", ") + "]";
  }
  return String(value);
}

function typeName(value) {
  if (value === null) {
    return "null";
  }
  return Array.isArray(value) ? "array" : typeof value;
}

function integer(value, name) {
  // Booleans are refused although they behave as 0 and 1, as in the Python.
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError("`" + name + "` must be an integer; got " + repr(value) + " (" + typeName(value) + ")");
  }
  return value;
}

function positive(value, name) {
  integer(value, name);
  if (value < 1) {
    throw new RangeError("`" + name + "` must be >= 1; got " + value);
  }
  return value;
}

function nonNegative(value, name) {
  integer(value, name);
  if (value < 0) {
    throw new RangeError("`" + name + "` must be >= 0; got " + value);
  }
  return value;
}

/** A padding given as a pair: an array (or other iterable that is not a string) of two entries. */
function asPair(value) {
  if (value === null || value === undefined || typeof value === "string" || typeof value[Symbol.iterator] !== "function") {
    return null;
  }
  const items = Array.from(value);
  return items.length === 2 ? items : null;
}

/** An integer or a pair of integers, each passed through `check`, as [h, w]. */
function hwPair(value, name, check) {
  // A non-integer number is neither, as in the Python (which tries to unpack it as a pair).
  if (Number.isInteger(value) || typeof value === "boolean") {
    return [check(value, name), check(value, name)];
  }
  const items = asPair(value);
  if (items === null) {
    throw new TypeError("`" + name + "` must be an integer or a pair of integers; got " + repr(value));
  }
  return [check(items[0], name), check(items[1], name)];
}

function bool(value, name) {
  if (typeof value !== "boolean") {
    throw new TypeError("`" + name + "` must be a bool; got " + repr(value) + " (" + typeName(value) + ")");
  }
  return value;
}

function paddingMode(padding) {
  const mode = padding.toUpperCase();
  if (mode !== "VALID" && mode !== "SAME") {
    throw new RangeError("`padding` must be 'SAME', 'VALID' or explicit (before, after); got " + repr(padding));
  }
  return mode;
}

/**
 * Span of a dilated kernel: k_eff = (k - 1) * d + 1.
 * @param {number} kernelSize k >= 1
 * @param {number} [dilation=1] d >= 1
 * @returns {number} k_eff
 */
export function effectiveKernelSize(kernelSize, dilation = 1) {
  const k = positive(kernelSize, "kernel_size");
  const d = positive(dilation, "dilation");
  return (k - 1) * d + 1;
}

/**
 * TensorFlow's "SAME" padding for one axis, as [before, after]:
 * o = ceil(i / s); total = max((o - 1) * s + k_eff - i, 0); before = floor(total / 2), and the
 * odd extra pixel goes after (bottom / right). PyTorch and several textbooks put it before.
 * @param {number} inputSize i >= 0
 * @param {number} kernelSize k >= 1
 * @param {number} [stride=1] s >= 1
 * @param {number} [dilation=1] d >= 1
 * @returns {number[]} [before, after]
 */
export function samePadding(inputSize, kernelSize, stride = 1, dilation = 1) {
  const i = nonNegative(inputSize, "input_size");
  const s = positive(stride, "stride");
  const kEff = effectiveKernelSize(kernelSize, dilation);
  const o = Math.ceil(i / s);
  const total = Math.max((o - 1) * s + kEff - i, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/**
 * Turn "SAME", "VALID" (any case) or [before, after] into explicit [before, after].
 * @param {string|number[]} padding
 * @param {number} inputSize i >= 0
 * @param {number} kernelSize k >= 1
 * @param {number} [stride=1] s >= 1
 * @param {number} [dilation=1] d >= 1
 * @returns {number[]} [before, after]
 */
export function resolvePadding(padding, inputSize, kernelSize, stride = 1, dilation = 1) {
  // Every argument is checked, whatever the mode.
  nonNegative(inputSize, "input_size");
  effectiveKernelSize(kernelSize, dilation);
  positive(stride, "stride");
  if (typeof padding === "string") {
    return paddingMode(padding) === "VALID" ? [0, 0] : samePadding(inputSize, kernelSize, stride, dilation);
  }
  const items = asPair(padding);
  if (items === null) {
    throw new RangeError("`padding` must be 'SAME', 'VALID' or a pair (before, after); got " + repr(padding));
  }
  return [nonNegative(items[0], "padding"), nonNegative(items[1], "padding")];
}

/**
 * Output size of a convolution along one axis:
 * o = floor((i + p_before + p_after - k_eff) / s) + 1, or 0 when the padded input is smaller
 * than the effective kernel (the empty output). With "SAME" this is ceil(i / s); with "VALID"
 * it is ceil((i - k_eff + 1) / s).
 * @param {number} inputSize i >= 0
 * @param {number} kernelSize k >= 1
 * @param {number} [stride=1] s >= 1
 * @param {string|number[]} [padding="VALID"]
 * @param {number} [dilation=1] d >= 1
 * @returns {number} o >= 0
 */
export function convOutputSize(inputSize, kernelSize, stride = 1, padding = "VALID", dilation = 1) {
  const i = nonNegative(inputSize, "input_size");
  const s = positive(stride, "stride");
  const kEff = effectiveKernelSize(kernelSize, dilation);
  const [before, after] = resolvePadding(padding, i, kernelSize, s, dilation);
  const span = i + before + after - kEff;
  return span < 0 ? 0 : Math.floor(span / s) + 1;
}

/**
 * The input sizes that a convolution maps to `outputSize` (the inverse of convOutputSize), as a
 * half-open range {start, stop} like Python's range: every i with start <= i < stop.
 *   "SAME": o = ceil(i / s), so (o - 1) * s + 1 <= i <= o * s (and i = 0 for o = 0);
 *   "VALID" or explicit (p = p_before + p_after): (o - 1) * s + k_eff - p <= i <= o * s - 1 + k_eff - p
 *   when o >= 1, and 0 <= i <= k_eff - p - 1 for o = 0. The lower end is clipped at 0; the range
 *   is empty (start === stop) when no input size gives `outputSize`.
 * Note the argument order, Python's: dilation before padding.
 * @param {number} outputSize o >= 0
 * @param {number} kernelSize k >= 1
 * @param {number} [stride=1] s >= 1
 * @param {number} [dilation=1] d >= 1
 * @param {string|number[]} [padding="VALID"]
 * @returns {{start: number, stop: number}}
 */
export function inputSizeRange(outputSize, kernelSize, stride = 1, dilation = 1, padding = "VALID") {
  const o = nonNegative(outputSize, "output_size");
  const s = positive(stride, "stride");
  const kEff = effectiveKernelSize(kernelSize, dilation);
  let total = 0;
  if (typeof padding === "string") {
    if (paddingMode(padding) === "SAME") {
      return o === 0 ? { start: 0, stop: 1 } : { start: (o - 1) * s + 1, stop: o * s + 1 };
    }
  } else {
    const [before, after] = resolvePadding(padding, 0, kernelSize, s, dilation);
    total = before + after;
  }
  const low = o === 0 ? 0 : Math.max(0, (o - 1) * s + kEff - total);
  const high = o === 0 ? kEff - total - 1 : o * s - 1 + kEff - total;
  return { start: low, stop: Math.max(low, high + 1) };
}

/**
 * Output sizes a transposed convolution can have, as {start, stop} (half-open). A transposed
 * convolution is described by the forward convolution it transposes (kernel, stride, padding,
 * dilation), which maps its output back to its input. With stride > 1 several sizes map to the
 * same input size, which is why convops.conv2d_transpose (like tf.nn.conv2d_transpose) needs the
 * output size spelled out and refuses any size outside this range.
 * @param {number} inputSize the transposed op's input size (the forward conv's output), >= 0
 * @param {number} kernelSize k >= 1
 * @param {number} [stride=1] s >= 1
 * @param {string|number[]} [padding="SAME"] the forward conv's padding (TensorFlow's default)
 * @param {number} [dilation=1] d >= 1
 * @returns {{start: number, stop: number}}
 */
export function transposedOutputSizeRange(inputSize, kernelSize, stride = 1, padding = "SAME", dilation = 1) {
  return inputSizeRange(inputSize, kernelSize, stride, dilation, padding);
}

/**
 * Output size of a pooling layer along one axis (a convolution without dilation).
 * @param {number} inputSize i >= 0
 * @param {number} windowSize k >= 1
 * @param {number} stride s >= 1
 * @param {string|number[]} [padding="VALID"]
 * @returns {number} o >= 0
 */
export function poolOutputSize(inputSize, windowSize, stride, padding = "VALID") {
  positive(windowSize, "window_size"); // named as the caller spelled it
  return convOutputSize(inputSize, windowSize, stride, padding, 1);
}

/** Check one layer of a stack and return [k_eff, s]; errors say which layer. */
function layerGeometry(layer, index) {
  if (layer === null || layer === undefined || typeof layer[Symbol.iterator] !== "function") {
    throw new TypeError("layer " + index + " of `layers` must be (kernel_size, stride[, dilation]); got " + repr(layer));
  }
  const items = Array.from(layer);
  if (items.length !== 2 && items.length !== 3) {
    throw new RangeError(
      "layer " + index + " of `layers` must be (kernel_size, stride) or (kernel_size, stride, dilation); got " +
        repr(items),
    );
  }
  try {
    const kEff = effectiveKernelSize(items[0], items.length === 3 ? items[2] : 1);
    return [kEff, positive(items[1], "stride")];
  } catch (error) {
    // Keep the kind of error, add which layer the bad number came from.
    throw new error.constructor("layer " + index + " of `layers`: " + error.message);
  }
}

/**
 * Receptive field after each layer of a stack, along one axis. Each layer is [k, s] or
 * [k, s, d]; pooling layers are [window, stride]. The recurrence, from one input pixel
 * (size 1, jump 1, start 0):
 *   size_out  = size_in + (k_eff - 1) * jump_in
 *   jump_out  = jump_in * s
 *   start_out = start_in + ((k_eff - 1) / 2 - p_before) * jump_in
 * @param {Iterable<number[]>} layers
 * @param {Iterable<number>|null} [paddingBefore=null] padding before the first pixel per layer
 *   (default 0s): moves start only
 * @returns {{size: number, jump: number, start: number}[]} one per layer
 */
export function receptiveFields(layers, paddingBefore = null) {
  const iterable = (v) => v !== null && v !== undefined && typeof v[Symbol.iterator] === "function";
  if (!iterable(layers) || (paddingBefore !== null && paddingBefore !== undefined && !iterable(paddingBefore))) {
    throw new TypeError("`layers` and `padding_before` must be sequences: got " + repr(layers) + " and " + repr(paddingBefore));
  }
  const stack = Array.from(layers);
  const pads = paddingBefore === null || paddingBefore === undefined ? stack.map(() => 0) : Array.from(paddingBefore);
  if (pads.length !== stack.length) {
    throw new RangeError("`padding_before` must have one entry per layer (" + stack.length + "); got " + pads.length);
  }
  let size = 1;
  let jump = 1;
  let start = 0;
  return stack.map((layer, index) => {
    const [kEff, s] = layerGeometry(layer, index);
    const p = nonNegative(pads[index], "padding_before");
    start += ((kEff - 1) / 2 - p) * jump;
    size += (kEff - 1) * jump;
    jump *= s;
    return { size, jump, start };
  });
}

/**
 * Receptive field size (one axis) of a unit after the whole stack; 1 for an empty stack.
 * @param {Iterable<number[]>} layers
 * @returns {number}
 */
export function receptiveField(layers) {
  const fields = receptiveFields(layers);
  return fields.length ? fields[fields.length - 1].size : 1;
}

function checkGroups(cIn, cOut, groups) {
  if (cIn % groups || cOut % groups) {
    throw new RangeError(
      "`in_channels` (" + cIn + ") and `out_channels` (" + cOut + ") must be multiples of `groups` (" + groups + ")",
    );
  }
}

/**
 * Trainable parameters of a 2-D convolution: (KH * KW * C_in / groups + 1) * C_out (no +1
 * without bias). Parameter sharing is why the image size does not appear.
 * @param {number|number[]} kernelSize k or [KH, KW]
 * @param {number} inChannels C_in >= 1
 * @param {number} outChannels C_out >= 1
 * @param {boolean} [useBias=true]
 * @param {number} [groups=1] divides C_in and C_out
 * @returns {number}
 */
export function conv2dParams(kernelSize, inChannels, outChannels, useBias = true, groups = 1) {
  const [kh, kw] = hwPair(kernelSize, "kernel_size", positive);
  const cIn = positive(inChannels, "in_channels");
  const cOut = positive(outChannels, "out_channels");
  const g = positive(groups, "groups");
  checkGroups(cIn, cOut, g);
  return (kh * kw * (cIn / g) + (bool(useBias, "use_bias") ? 1 : 0)) * cOut;
}

/**
 * Trainable parameters of a dense (fully connected) layer: (n_in + 1) * n_out (no +1 without bias).
 * @param {number} inFeatures n_in >= 1
 * @param {number} outFeatures n_out >= 1
 * @param {boolean} [useBias=true]
 * @returns {number}
 */
export function denseParams(inFeatures, outFeatures, useBias = true) {
  const featuresIn = positive(inFeatures, "in_features");
  const featuresOut = positive(outFeatures, "out_features");
  return (featuresIn + (bool(useBias, "use_bias") ? 1 : 0)) * featuresOut;
}

/**
 * Floating-point operations of one image through a conv layer (multiply and add count as 2):
 * 2 * H_out * W_out * KH * KW * C_in / groups * C_out.
 * @param {number|number[]} outputHw [H_out, W_out] (or one size for both)
 * @param {number|number[]} kernelSize k or [KH, KW]
 * @param {number} inChannels C_in >= 1
 * @param {number} outChannels C_out >= 1
 * @param {number} [groups=1]
 * @returns {number}
 */
export function conv2dFlops(outputHw, kernelSize, inChannels, outChannels, groups = 1) {
  const [ho, wo] = hwPair(outputHw, "output_hw", nonNegative);
  const [kh, kw] = hwPair(kernelSize, "kernel_size", positive);
  const g = positive(groups, "groups");
  const cIn = positive(inChannels, "in_channels");
  const cOut = positive(outChannels, "out_channels");
  checkGroups(cIn, cOut, g);
  return 2 * ho * wo * kh * kw * (cIn / g) * cOut;
}
