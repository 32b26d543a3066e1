/* The tutorial's network in the browser, with the weights the docs build trained.
 *
 * model.json + model.bin are written by docs/_ext/explorer_assets.py when the site is built:
 * the layer list (type, geometry, activation, output shape; for each weight its shape, byte
 * offset and length) and every weight as little-endian float32. The forward pass is made of
 * ops.js's operations (each tested against convops), layer by layer, keeping every layer's
 * output so the page can show it:
 *   conv 3x3, 32, ReLU -> max-pool 2 -> conv 3x3, 64, ReLU -> max-pool 2 -> conv 3x3, 128, ReLU
 *   -> flatten -> dense 10, softmax.
 * tests/js/network.test.mjs compares every layer with convops.nn on real digits.
 */

import { conv2d, dense, flatten, maxPool2d, relu, softmax, tensor } from "./ops.js";
import { receptiveFields } from "./arithmetic.js";

export const MODEL_FORMAT = "convops-explorer-model/1";

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** SHA-256 of the bytes as hex, or null where the browser offers no digest (Web Crypto exists
 * only in secure contexts: https, localhost; a page served over plain http elsewhere has none). */
export async function sha256Hex(buffer) {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  return subtle ? hex(await subtle.digest("SHA-256", buffer)) : null;
}

/** A weight of the .bin as a tensor; float32 little-endian, read with a DataView so that the
 * byte order holds on any machine (a Float32Array would use the machine's). */
function readWeight(view, { name, shape, offset, length }, layerName) {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== length || offset < 0 || offset + 4 * length > view.byteLength) {
    throw new Error(`model.bin: weight ${layerName}.${name} (shape ${shape}, offset ${offset}) is outside the file`);
  }
  const data = new Float32Array(length);
  for (let i = 0; i < length; i++) data[i] = view.getFloat32(offset + 4 * i, true);
  return tensor(shape, data);
}

/**
 * The model from model.json's content and model.bin's bytes (an ArrayBuffer). Checks the
 * format, the length and the SHA-256 (when the browser can compute it).
 * Returns {inputShape, layers: [{name, type, outputShape, kernel?, bias?, ...geometry}], verified}.
 */
export async function parseModel(description, buffer) {
  if (description.format !== MODEL_FORMAT) {
    throw new Error(`model.json: format must be ${MODEL_FORMAT}; got ${description.format}`);
  }
  if (buffer.byteLength !== description.byte_length) {
    throw new Error(`model.bin: ${buffer.byteLength} bytes, model.json says ${description.byte_length}`);
  }
  const digest = await sha256Hex(buffer);
  if (digest !== null && digest !== description.sha256) {
    throw new Error(`model.bin: SHA-256 ${digest} differs from model.json's ${description.sha256}`);
  }
  const view = new DataView(buffer);
  const layers = description.layers.map((entry) => {
    const layer = { ...entry, outputShape: entry.output_shape };
    for (const weight of entry.weights || []) {
      const value = readWeight(view, weight, entry.name);
      // ops.js takes kernels as tensors and biases as plain arrays of C_out values.
      layer[weight.name] = weight.name === "bias" ? value.data : value;
    }
    return layer;
  });
  return { inputShape: description.input_shape, layers, verified: digest !== null, source: description.source };
}

/** Fetch model.json and the .bin it names (next to it) and parse them. */
export async function loadModel(url = new URL("model.json", import.meta.url)) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const description = await response.json();
  const binUrl = new URL(description.bin, response.url || url);
  const bin = await fetch(binUrl);
  if (!bin.ok) throw new Error(`${binUrl}: HTTP ${bin.status}`);
  return parseModel(description, await bin.arrayBuffer());
}

/** A vector of flatten/dense/softmax as a 1-D tensor, whatever ops.js returned. */
function asVector(v) {
  const data = v instanceof Float32Array ? v : Float32Array.from(v.data);
  return tensor([data.length], data);
}

/** One layer's output from its input (a tensor). */
export function applyLayer(layer, x) {
  switch (layer.type) {
    case "Conv2D": {
      const z = conv2d(x, layer.kernel, layer.bias, {
        strides: layer.strides,
        padding: layer.padding,
        dilations: layer.dilations,
      });
      return layer.activation === "relu" ? relu(z) : z;
    }
    case "MaxPooling2D":
      return maxPool2d(x, { ksize: layer.pool_size, strides: layer.strides, padding: layer.padding });
    case "Flatten":
      return asVector(flatten(x));
    case "Dense": {
      const z = asVector(dense(x.data, layer.kernel, layer.bias));
      return layer.activation === "softmax" ? asVector(softmax(z.data)) : z;
    }
    default:
      throw new Error(`the explorer cannot run a ${layer.type} layer (${layer.name})`);
  }
}

/**
 * The forward pass of one 28 x 28 image (Float32Array(784) in [0, 1], as the tutorial feeds it).
 * Returns {input, activations: [tensor per layer], probabilities: Float32Array(10), predicted}.
 */
export function forward(model, image) {
  const input = tensor(model.inputShape, image);
  const activations = [];
  let x = input;
  for (const layer of model.layers) {
    x = applyLayer(layer, x);
    activations.push(x);
  }
  const probabilities = x.data;
  let predicted = 0;
  for (let k = 1; k < probabilities.length; k++) if (probabilities[k] > probabilities[predicted]) predicted = k;
  return { input, activations, probabilities, predicted };
}

/** [kernel or window, stride, dilation] of the spatial layers up to and including `index`. */
function geometry(model, index) {
  return model.layers.slice(0, index + 1).map((layer) => {
    if (layer.type === "Conv2D") return { h: [layer.kernel_size[0], layer.strides[0], layer.dilations[0]], w: [layer.kernel_size[1], layer.strides[1], layer.dilations[1]] };
    if (layer.type === "MaxPooling2D") return { h: [layer.pool_size[0], layer.strides[0]], w: [layer.pool_size[1], layer.strides[1]] };
    throw new Error(`layer ${layer.name} has no receptive field of its own`);
  });
}

/**
 * The input box unit (y, x) of spatial layer `index` sees, by convops.arithmetic's rule: the
 * field's centre is start + i * jump, it spans size pixels. Inclusive rows/columns, clipped to
 * the input (all layers are VALID here, so nothing is clipped).
 */
export function receptiveBox(model, index, y, x) {
  const layers = geometry(model, index);
  const fh = receptiveFields(layers.map((g) => g.h)).at(-1);
  const fw = receptiveFields(layers.map((g) => g.w)).at(-1);
  const [H, W] = model.inputShape;
  const span = (f, i, n) => {
    const centre = f.start + i * f.jump;
    return [Math.max(0, Math.ceil(centre - (f.size - 1) / 2)), Math.min(n - 1, Math.floor(centre + (f.size - 1) / 2))];
  };
  const [top, bottom] = span(fh, y, H);
  const [left, right] = span(fw, x, W);
  return { top, left, bottom, right, size: [fh.size, fw.size] };
}

/**
 * The arithmetic of one output of a Conv2D layer: every product input x weight of the window,
 * their sum, the bias, and the ReLU. `input` is the layer's input tensor.
 */
export function unitArithmetic(layer, input, y, x, channel) {
  const [, W, C] = input.shape;
  const [KH, KW, CI, CO] = layer.kernel.shape;
  const [sy, sx] = layer.strides;
  const [dy, dx] = layer.dilations;
  const terms = [];
  let sum = 0;
  for (let i = 0; i < KH; i++) {
    for (let j = 0; j < KW; j++) {
      for (let c = 0; c < CI; c++) {
        const value = input.data[((y * sy + i * dy) * W + x * sx + j * dx) * C + c];
        const weight = layer.kernel.data[((i * KW + j) * CI + c) * CO + channel];
        terms.push({ i, j, c, value, weight, product: value * weight });
        sum += value * weight;
      }
    }
  }
  const bias = layer.bias ? layer.bias[channel] : 0;
  const z = sum + bias;
  return { terms, sum, bias, z, output: layer.activation === "relu" ? Math.max(0, z) : z };
}
