/* The filter lab (docs/explorer/filter-lab.rst): a 3x3 or 5x5 kernel, typed or picked from presets,
 * on a real MNIST digit; shows the padded input, the response map and its ReLU.
 *
 * Every number comes from ops.js (pad, conv2d, relu), the operations that tests/js/ops.test.mjs
 * checks against convops. The digits are the bundled real MNIST test digits (digits.json, written
 * next to this file when the site is built). Colours follow the site's figures: input white to blue,
 * signed values purple < 0 (white) < green (ColorBrewer PRGn), non-negative outputs white to green,
 * padding hatched, the kernel's window vermillion.
 *
 * Bad input never throws: a cell that is not a number, an all-zero kernel, weights so large that the
 * responses overflow float32 each get a message in the status line. For tests, the state of the last
 * computation is published as window.convopsFilterLab (and the root's data-status).
 */
import { conv2d, pad, relu, tensor } from "./ops.js";
import { resolvePadding, convOutputSize } from "./arithmetic.js";
import { t } from "./strings.js";

const SIDE = 28; // MNIST digits are 28 x 28
const CELL = 8; // canvas pixels per map cell: the maps are drawn crisp, then scaled by CSS
// Kernels of the concept page on response maps, and a few classics (rows top to bottom).
const PRESETS = [
  [t("fl.preset.verticalEdge"), [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]],
  [t("fl.preset.horizontalEdge"), [[-1, -1, -1], [0, 0, 0], [1, 1, 1]]],
  [t("fl.preset.sobelVertical"), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]],
  [t("fl.preset.sobelHorizontal"), [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]],
  [t("fl.preset.diagonal"), [[0, 1, 1], [-1, 0, 1], [-1, -1, 0]]],
  [t("fl.preset.laplacian"), [[0, 1, 0], [1, -4, 1], [0, 1, 0]]],
  [t("fl.preset.outline"), [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]],
  [t("fl.preset.sharpen"), [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]],
  [t("fl.preset.boxBlur"), [[1 / 9, 1 / 9, 1 / 9], [1 / 9, 1 / 9, 1 / 9], [1 / 9, 1 / 9, 1 / 9]]],
  [t("fl.preset.gaussianBlur"), [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]]],
  [t("fl.preset.identity"), [[0, 0, 0], [0, 1, 0], [0, 0, 0]]],
  [t("fl.preset.boxBlur5"), Array.from({ length: 5 }, () => Array(5).fill(1 / 25))],
];
const MODE_NAMES = Object.fromEntries(
  ["VALID", "CONSTANT", "MEAN", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR"].map((mode) => [mode, t(`fl.mode.${mode}`)])
);
// The site's colour maps (docs/figures/grammar.py): stops from 0 to 1.
const INPUT_STOPS = ["#ffffff", "#bcd9ec", "#0072b2", "#00304d"];
const OUTPUT_STOPS = ["#ffffff", "#b3e2d5", "#009e73", "#00422f"];
const SIGNED_STOPS = ["#40004b", "#752982", "#9970ab", "#c1a4ce", "#e7d4e8", "#f6f7f6",
  "#d9f0d3", "#a5da9f", "#5aae61", "#1a7736", "#00441b"];
const WINDOW = "#d55e00";
const FLOAT32_MAX = 3.4028234663852886e38;

// ---------------------------------------------------------------------------------------------
// numbers and colours

/** A short, readable number: 3 significant digits, exponent form when very large or small. */
function fmt(v) {
  if (!Number.isFinite(v)) {
    return Number.isNaN(v) ? "NaN" : (v > 0 ? "+∞" : "−∞");
  }
  const a = Math.abs(v);
  const text = a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(3)));
  return text.replace("-", "−");
}

function hexToRgb(hex) {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

/** The colour at t in [0, 1] of a map given by evenly spaced stops (linear in RGB between them). */
function colourAt(stops, t) {
  const clamped = Math.min(Math.max(Number.isNaN(t) ? 0.5 : t, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(clamped), stops.length - 2);
  const f = clamped - i;
  const [a, b] = [hexToRgb(stops[i]), hexToRgb(stops[i + 1])];
  return `rgb(${a.map((v, k) => Math.round(v + (b[k] - v) * f)).join(",")})`;
}

/** The largest finite |value| (0 when there is none). */
function finiteMax(data) {
  let m = 0;
  for (const v of data) {
    if (Number.isFinite(v)) {
      m = Math.max(m, Math.abs(v));
    }
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// drawing

/**
 * Draw a single-channel map [H, W, 1] cell by cell: `toUnit(v)` maps a value to [0, 1] of `stops`.
 * Infinite values take the end colour of their sign (toUnit clamps them).
 */
function drawMap(canvas, map, stops, toUnit) {
  const [h, w] = map.shape;
  canvas.width = Math.max(w, 1) * CELL;
  canvas.height = Math.max(h, 1) * CELL;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      ctx.fillStyle = colourAt(stops, toUnit(map.data[y * w + x]));
      ctx.fillRect(x * CELL, y * CELL, CELL, CELL);
    }
  }
  return ctx;
}

/** Hatch the padding (everything outside the image's rectangle) and outline the image. */
function hatchPadding(ctx, pads) {
  const [[top], [left]] = pads;
  const [width, height] = [ctx.canvas.width, ctx.canvas.height];
  const inner = [left * CELL, top * CELL, SIDE * CELL, SIDE * CELL];
  if (width === inner[2] && height === inner[3]) {
    return;
  }
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, 0, width, height);
  ctx.rect(...inner);
  ctx.clip("evenodd");
  ctx.strokeStyle = "rgba(90, 90, 90, 0.75)";
  ctx.lineWidth = 1.5;
  for (let d = -height; d < width; d += 6) {
    ctx.beginPath();
    ctx.moveTo(d, height);
    ctx.lineTo(d + height, 0);
    ctx.stroke();
  }
  ctx.restore();
  ctx.strokeStyle = "#555555";
  ctx.lineWidth = 2;
  ctx.strokeRect(...inner);
}

function outline(ctx, x, y, w, h, colour) {
  ctx.strokeStyle = colour;
  ctx.lineWidth = 3;
  ctx.strokeRect(x * CELL + 1.5, y * CELL + 1.5, w * CELL - 3, h * CELL - 3);
}

/** A horizontal colour bar of `stops` with numbers under it (first, middle, last). */
function drawScale(bar, ticks, stops, labels) {
  bar.width = 200;
  bar.height = 12;
  const ctx = bar.getContext("2d");
  for (let x = 0; x < bar.width; x++) {
    ctx.fillStyle = colourAt(stops, x / (bar.width - 1));
    ctx.fillRect(x, 0, 1, bar.height);
  }
  ticks.replaceChildren(...labels.map((text) => Object.assign(document.createElement("span"), { textContent: text })));
}

// ---------------------------------------------------------------------------------------------
// the computation

/**
 * Everything the page shows for one setting, computed by ops.js.
 * @param {number[]} pixels  784 ints 0..255, row-major
 * @param {number[][]} kernel  k rows of k weights
 * @param {string} mode  "VALID" or a pad mode (SAME padding filled that way)
 * @param {number} stride  1 or 2
 */
export function compute(pixels, kernel, mode, stride) {
  const k = kernel.length;
  const digit = tensor([SIDE, SIDE, 1], pixels.map((v) => v / 255));
  const padding = mode === "VALID" ? "VALID" : "SAME";
  const padMode = mode === "VALID" ? "CONSTANT" : mode;
  const pads = [resolvePadding(padding, SIDE, k, stride, 1), resolvePadding(padding, SIDE, k, stride, 1)];
  const w = tensor([k, k, 1, 1], kernel.flat());
  const response = conv2d(digit, w, null, { strides: [stride, stride], padding, padMode });
  return {
    digit,
    padded: pad(digit, pads, padMode),
    pads,
    padding,
    padMode,
    stride,
    k,
    response,
    rectified: relu(response),
    outSize: convOutputSize(SIDE, k, stride, pads[0], 1),
  };
}

/** What is worth saying about a result: all-zero kernel, overflow, an empty map (or nothing). */
function notices(result, kernel) {
  const said = [];
  if (kernel.flat().every((v) => v === 0)) {
    said.push(t("fl.allZero"));
  }
  if (result.response.data.some((v) => !Number.isFinite(v))) {
    said.push(t("fl.overflow"));
  }
  if (result.outSize === 0) {
    said.push(t("fl.emptyMap"));
  }
  return said;
}

// ---------------------------------------------------------------------------------------------
// the page

function el(root, selector) {
  return root.querySelector(selector);
}

/** The kernel grid's inputs as numbers; `problem` names the first cell that is not a finite number. */
function readKernel(grid) {
  const inputs = Array.from(grid.querySelectorAll("input"));
  const k = Math.round(Math.sqrt(inputs.length));
  let problem = null;
  const rows = Array.from({ length: k }, (_, r) =>
    Array.from({ length: k }, (_, c) => {
      const input = inputs[r * k + c];
      const value = input.value.trim() === "" ? NaN : Number(input.value);
      // float32 is what the maps are computed in: a larger weight would become infinite.
      const bad = !Number.isFinite(value) || Math.abs(value) > FLOAT32_MAX;
      input.setAttribute("aria-invalid", bad ? "true" : "false");
      if (bad && !problem) {
        const where = { row: r + 1, col: c + 1 };
        problem = Number.isFinite(value)
          ? t("fl.tooLarge", { ...where, value: fmt(value) })
          : t("fl.notANumber", where);
      }
      return bad ? 0 : value;
    })
  );
  return { rows, problem };
}

/** Fill the grid with k x k number inputs holding `rows`, each labelled with its row and column. */
function buildGrid(grid, rows) {
  const k = rows.length;
  grid.style.setProperty("--filterlab-k", String(k));
  grid.replaceChildren(
    ...rows.flat().map((value, i) => {
      const input = document.createElement("input");
      input.type = "number";
      input.step = "any";
      input.inputMode = "decimal";
      input.value = String(Number(value.toPrecision(6)));
      input.setAttribute("aria-label", t("fl.weightLabel", { row: Math.floor(i / k) + 1, col: (i % k) + 1 }));
      return input;
    })
  );
}

/** `rows` resized to k x k: centred in zeros when growing, the centre kept when shrinking. */
function resize(rows, k) {
  const offset = (rows.length - k) / 2;
  return Array.from({ length: k }, (_, r) =>
    Array.from({ length: k }, (_, c) => (rows[r + offset] && rows[r + offset][c + offset]) || 0)
  );
}

function kernelSumNote(rows) {
  const sum = rows.flat().reduce((a, b) => a + b, 0);
  if (Math.abs(sum) < 1e-9) {
    return t("fl.sumZero");
  }
  if (Math.abs(sum - 1) < 1e-6) {
    return t("fl.sumOne");
  }
  return t("fl.sumOther", { sum: fmt(sum) });
}

class FilterLab {
  constructor(root, digits) {
    this.root = root;
    this.digits = digits;
    this.selected = [0, 0];
    this.result = null;
    this.controls = {
      preset: el(root, "#filterlab-preset"),
      size: el(root, "#filterlab-size"),
      grid: el(root, ".filterlab-grid"),
      digit: el(root, "#filterlab-digit"),
      padding: el(root, "#filterlab-padding"),
    };
    this.fillSelects();
    this.applyPreset(0);
    this.listen();
    el(root, ".filterlab-controls").hidden = false;
    el(root, ".filterlab-maps").hidden = false;
    this.update();
  }

  fillSelects() {
    const { preset, digit } = this.controls;
    const options = PRESETS.map(([name], i) => new Option(name, String(i)));
    preset.replaceChildren(...options, new Option(t("fl.preset.custom"), "custom"));
    const count = this.digits.labels.length;
    digit.replaceChildren(
      ...this.digits.labels.map((label, i) => new Option(t("digit.option", { label, n: i + 1, count }), String(i)))
    );
    const seven = this.digits.labels.indexOf(7);
    digit.value = String(seven >= 0 ? seven : 0);
  }

  applyPreset(index) {
    const rows = PRESETS[index][1];
    this.controls.preset.value = String(index);
    this.controls.size.value = String(rows.length);
    buildGrid(this.controls.grid, rows);
  }

  listen() {
    const { preset, size, grid, digit, padding } = this.controls;
    preset.addEventListener("change", () => {
      if (preset.value !== "custom") {
        this.applyPreset(Number(preset.value));
      }
      this.update();
    });
    size.addEventListener("change", () => {
      buildGrid(grid, resize(readKernel(grid).rows, Number(size.value)));
      preset.value = "custom";
      this.update();
    });
    grid.addEventListener("input", () => {
      preset.value = "custom";
      this.update();
    });
    for (const control of [digit, padding, ...this.root.querySelectorAll("input[name=filterlab-stride]")]) {
      control.addEventListener("change", () => this.update());
    }
    const map = el(this.root, ".filterlab-response");
    map.addEventListener("click", (event) => this.pick(event));
    map.addEventListener("keydown", (event) => this.move(event));
  }

  stride() {
    return Number(el(this.root, "input[name=filterlab-stride]:checked").value);
  }

  /** Recompute and redraw from the controls; never throws (an unexpected error becomes the message). */
  update() {
    try {
      const { rows, problem } = readKernel(this.controls.grid);
      el(this.root, "#filterlab-kernel-sum").textContent = problem ? "" : kernelSumNote(rows);
      if (problem) {
        this.fail(problem);
        return;
      }
      const started = performance.now();
      const pixels = this.digits.images[Number(this.controls.digit.value)];
      this.result = compute(pixels, rows, this.controls.padding.value, this.stride());
      this.clampSelection();
      this.draw();
      this.say(notices(this.result, rows).join(" "), "ok");
      this.publish(rows, performance.now() - started);
    } catch (error) {
      this.fail(t("fl.computeFailed", { error: error.message }));
    }
  }

  fail(message) {
    this.say(message, "error");
    this.root.classList.add("is-stale");
    window.convopsFilterLab = { status: "error", message };
  }

  say(message, status) {
    el(this.root, ".filterlab-message").textContent = message;
    this.root.dataset.status = status;
    this.root.classList.toggle("is-stale", status !== "ok");
  }

  /** The last result and how long it took to compute and draw (ms), for the browser test. */
  publish(rows, millis) {
    const r = this.result;
    const index = Number(this.controls.digit.value);
    window.convopsFilterLab = {
      status: "ok",
      millis,
      digitIndex: index,
      label: this.digits.labels[index],
      kernel: rows,
      padding: r.padding,
      padMode: r.padMode,
      pads: r.pads,
      stride: r.stride,
      padded: { shape: r.padded.shape, data: Array.from(r.padded.data) },
      response: { shape: r.response.shape, data: Array.from(r.response.data) },
      relu: { shape: r.rectified.shape, data: Array.from(r.rectified.data) },
    };
  }

  clampSelection() {
    const n = this.result.outSize;
    this.selected = this.selected.map((v) => Math.min(Math.max(v, 0), Math.max(n - 1, 0)));
  }

  draw() {
    const r = this.result;
    const lim = finiteMax(r.response.data) || 1;
    const input = drawMap(el(this.root, ".filterlab-input"), r.padded, INPUT_STOPS, (v) => v);
    hatchPadding(input, r.pads);
    const signed = (v) => 0.5 + v / (2 * lim); // -lim..lim onto the diverging map, 0 at its white centre
    const response = drawMap(el(this.root, ".filterlab-response"), r.response, SIGNED_STOPS, signed);
    drawMap(el(this.root, ".filterlab-relu"), r.rectified, OUTPUT_STOPS, (v) => v / lim);
    if (r.outSize > 0) {
      const [y, x] = this.selected;
      outline(input, x * r.stride, y * r.stride, r.k, r.k, WINDOW);
      outline(response, x, y, 1, 1, WINDOW);
    }
    drawScale(el(this.root, ".filterlab-bar-signed"), el(this.root, ".filterlab-ticks-signed"), SIGNED_STOPS,
      [fmt(-lim), "0", fmt(lim)]);
    drawScale(el(this.root, ".filterlab-bar-relu"), el(this.root, ".filterlab-ticks-relu"), OUTPUT_STOPS,
      ["0", fmt(lim / 2), fmt(lim)]);
    this.caption(lim);
    this.readout();
  }

  caption(lim) {
    const r = this.result;
    const [[top, bottom], [left, right]] = r.pads;
    const [ph, pw] = r.padded.shape;
    const padText = r.padding === "VALID" ? t("fl.noPadding") :
      t("fl.paddedTo", { h: ph, w: pw, top, bottom, left, right, mode: MODE_NAMES[r.padMode] });
    el(this.root, "#filterlab-input-caption").textContent = t("fl.inputCaption", { padding: padText });
    const formula = `⌊(28 + ${top} + ${bottom} − ${r.k}) / ${r.stride}⌋ + 1 = ${r.outSize}`;
    el(this.root, "#filterlab-response-caption").textContent = t("fl.responseCaption", { n: r.outSize, formula });
    el(this.root, "#filterlab-relu-caption").textContent = t("fl.reluCaption", { n: r.outSize });
    el(this.root, ".filterlab-input").setAttribute("aria-label", t("fl.inputLabel", { h: ph, w: pw }));
    el(this.root, ".filterlab-response").setAttribute("aria-label",
      t("fl.responseLabel", { n: r.outSize, low: fmt(-lim), high: fmt(lim) }));
    el(this.root, ".filterlab-relu").setAttribute("aria-label", t("fl.reluLabel", { n: r.outSize }));
  }

  readout() {
    const r = this.result;
    const text = el(this.root, ".filterlab-readout");
    if (r.outSize === 0) {
      text.textContent = "";
      return;
    }
    const [y, x] = this.selected;
    const v = r.response.data[y * r.outSize + x];
    const [y0, x0] = [y * r.stride, x * r.stride];
    text.textContent = t("fl.readout", {
      row: y + 1, col: x + 1, top: y0 + 1, bottom: y0 + r.k, left: x0 + 1, right: x0 + r.k,
      value: fmt(v), relu: fmt(Math.max(v, 0)),
    });
  }

  pick(event) {
    if (!this.result || this.result.outSize === 0) {
      return;
    }
    // The map is drawn inside the canvas's padding (its white card): measure from the content box.
    const canvas = event.currentTarget;
    const box = canvas.getBoundingClientRect();
    const style = getComputedStyle(canvas);
    const [padX, padY] = [parseFloat(style.paddingLeft) || 0, parseFloat(style.paddingTop) || 0];
    const n = this.result.outSize;
    const x = Math.floor(((event.clientX - box.left - padX) / (box.width - 2 * padX)) * n);
    const y = Math.floor(((event.clientY - box.top - padY) / (box.height - 2 * padY)) * n);
    this.selected = [y, x];
    this.clampSelection();
    this.draw();
  }

  move(event) {
    const steps = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[event.key];
    if (!steps || !this.result || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    event.preventDefault();
    event.stopPropagation(); // the site turns pages with the arrow keys: not while moving here
    this.selected = [this.selected[0] + steps[0], this.selected[1] + steps[1]];
    this.clampSelection();
    this.draw();
  }
}

/** digits.json, checked: {images: [[784 ints], ...], labels: [...]}. */
async function loadDigits() {
  const response = await fetch(new URL("digits.json", import.meta.url));
  if (!response.ok) {
    throw new Error(`digits.json: HTTP ${response.status}`);
  }
  const digits = await response.json();
  const ok = Array.isArray(digits.images) && digits.images.length > 0 &&
    digits.images.every((img) => Array.isArray(img) && img.length === SIDE * SIDE) &&
    Array.isArray(digits.labels) && digits.labels.length === digits.images.length;
  if (!ok) {
    throw new Error(t("fl.badDigits"));
  }
  return digits;
}

async function start() {
  const root = document.getElementById("filterlab");
  if (!root) {
    return;
  }
  try {
    root.filterLab = new FilterLab(root, await loadDigits());
  } catch (error) {
    el(root, ".filterlab-message").textContent = t("fl.startFailed", { error: error.message });
    root.dataset.status = "error";
  }
}

start();
