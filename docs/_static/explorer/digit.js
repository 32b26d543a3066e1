/* The draw-a-digit page: a drawing pad, MNIST's preprocessing of the drawing, the tutorial's
 * trained network run on it (network.js), every feature map, the softmax, and one unit's story
 * (its receptive field, its kernel, the arithmetic of its output).
 *
 * Recomputing is done once per animation frame while a stroke is drawn, so a fast pen never
 * queues more work than the screen can show. Each recomputation's time (preprocessing + network
 * + drawing the maps) is shown on the page and kept in window.convopsDigitExplorer for the
 * browser test, which also reads the pre-processed input, the first layer's maps and the
 * prediction from there to compare them with convops.
 */

import { forward, loadModel, receptiveBox, unitArithmetic } from "./network.js";
import { inkFromImageData, preprocess } from "./preprocess.js";
import { t } from "./strings.js";

const PEN_WIDTH = 20; // on the 280 px pad: after scaling to 20 px, a stroke 1.5-2 px wide, as MNIST's
// CSS pixels per unit for each map side: every layer's maps stay readable and fit a phone's width.
const MAP_SCALE = { 26: 2, 13: 3, 11: 4, 5: 6, 3: 8 };
// The five spatial layers' titles and short names, in the page's language (strings.js).
const LAYER_TITLES = [0, 1, 2, 3, 4].map((i) => t(`digit.layer${i}`));
const SHORT_NAMES = [0, 1, 2, 3, 4].map((i) => t(`digit.short${i}`));
const POSITIVE = [230, 115, 10]; // kernel weights: orange > 0, blue < 0 (readable on both themes)
const NEGATIVE = [30, 115, 230];

const $ = (id) => document.getElementById(id);
const fmt = (v) => (Math.abs(v) < 5e-4 && v !== 0 ? v.toExponential(1) : v.toFixed(3));

const state = {
  model: null,
  digits: null,
  source: "empty", // "empty" | "drawing" | "digit"
  digitIndex: -1,
  result: null,
  prepared: null,
  selection: { layer: 0, y: 12, x: 12, channel: 0 },
  userSelected: false, // until a click or key picks a unit, the strongest of the first layer is shown
  timings: [], // ms per recomputation, and its parts: pre-processing, network, drawing
  parts: [],
  redraws: 0,
};

/* ------------------------------------------------------------------ colours */

function rgbOf(cssColour) {
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(cssColour || "");
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

/** The theme's ink (text colour) and accent. Read once per theme (furo's light/dark toggle and
 * the system setting change them): getComputedStyle at every pointer move would cost a style pass. */
let themeCache = null;
function theme() {
  if (themeCache === null) {
    const style = getComputedStyle($("digit-explorer"));
    themeCache = { ink: rgbOf(style.color), accent: style.getPropertyValue("--color-brand-primary").trim() || "#2962ff" };
  }
  return themeCache;
}

/** Paint values (row-major, h x w) into a canvas of that size as ink with alpha = value / scale. */
function paintValues(canvas, values, h, w, scale, rgb, offset = 0, stride = 1) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(w, h);
  const bytes = image.data; // written byte by byte: this runs for ~40,000 pixels per stroke
  for (let i = 0; i < h * w; i++) {
    const v = values[offset + i * stride] / scale;
    bytes[4 * i] = rgb[0];
    bytes[4 * i + 1] = rgb[1];
    bytes[4 * i + 2] = rgb[2];
    bytes[4 * i + 3] = 255 * Math.min(Math.max(v, 0), 1); // a Uint8ClampedArray rounds
  }
  ctx.putImageData(image, 0, 0);
}

/* ------------------------------------------------------------------ drawing pad */

function setupPad(pad) {
  const ctx = pad.getContext("2d", { willReadFrequently: true });
  let drawing = false;
  let last = null;
  const point = (event) => {
    const box = pad.getBoundingClientRect();
    return [((event.clientX - box.left) * pad.width) / box.width, ((event.clientY - box.top) * pad.height) / box.height];
  };
  const line = (from, to) => {
    ctx.strokeStyle = `rgb(${theme().ink.join(",")})`;
    ctx.lineWidth = PEN_WIDTH;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
  };
  pad.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    drawing = true;
    state.source = "drawing";
    last = point(event);
    line(last, last);
    schedule();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const e of events.length ? events : [event]) {
      const p = point(e);
      line(last, p);
      last = p;
    }
    schedule();
  });
  const stop = () => {
    drawing = false;
  };
  pad.addEventListener("pointerup", stop);
  pad.addEventListener("pointercancel", stop);
  pad.addEventListener("lostpointercapture", stop);
  return ctx;
}

/** Recolour the pad's ink (kept in its alpha) after a theme change. */
function recolourPad(ctx) {
  const { width, height } = ctx.canvas;
  const image = ctx.getImageData(0, 0, width, height);
  const [r, g, b] = theme().ink;
  for (let i = 0; i < image.data.length; i += 4) {
    image.data[i] = r;
    image.data[i + 1] = g;
    image.data[i + 2] = b;
  }
  ctx.putImageData(image, 0, 0);
}

/** Show a bundled digit on the pad, 10 pad pixels per digit pixel. */
function paintDigitOnPad(ctx, pixels) {
  const side = ctx.canvas.width / 28;
  const image = ctx.createImageData(ctx.canvas.width, ctx.canvas.height);
  const [r, g, b] = theme().ink;
  for (let y = 0; y < ctx.canvas.height; y++) {
    for (let x = 0; x < ctx.canvas.width; x++) {
      const i = 4 * (y * ctx.canvas.width + x);
      image.data[i] = r;
      image.data[i + 1] = g;
      image.data[i + 2] = b;
      image.data[i + 3] = pixels[Math.floor(y / side) * 28 + Math.floor(x / side)];
    }
  }
  ctx.putImageData(image, 0, 0);
}

let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    recompute();
  });
}

/* ------------------------------------------------------------------ layers' feature maps */

function buildLayers(model) {
  const host = $("digit-layers");
  host.replaceChildren();
  model.layers.slice(0, 5).forEach((layer, index) => {
    const [h, w, channels] = layer.outputShape;
    const section = document.createElement("section");
    section.className = "digit-panel digit-layer";
    const title = document.createElement("h3");
    title.className = "digit-panel-title";
    title.id = `digit-layer-${index}-title`;
    title.textContent = `${LAYER_TITLES[index]} → ${h}×${w}×${channels}`;
    const maps = document.createElement("div");
    maps.className = "digit-maps";
    maps.tabIndex = 0;
    maps.setAttribute("role", "group");
    maps.setAttribute("aria-labelledby", title.id);
    maps.setAttribute("aria-description", t("digit.mapsHelp"));
    maps.dataset.layer = String(index);
    maps.style.setProperty("--map-size", `${h * MAP_SCALE[h]}px`);
    for (let c = 0; c < channels; c++) {
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      canvas.className = "digit-map";
      canvas.dataset.channel = String(c);
      canvas.setAttribute("aria-hidden", "true");
      canvas.title = t("digit.mapTitle", { layer: SHORT_NAMES[index], n: c + 1 });
      maps.append(canvas);
    }
    maps.addEventListener("click", (event) => clickMap(event, index, h, w));
    maps.addEventListener("keydown", (event) => keyMap(event, index, h, w, channels));
    section.append(title, maps);
    host.append(section);
  });
}

function clickMap(event, layer, h, w) {
  const canvas = event.target.closest("canvas.digit-map");
  if (!canvas) return;
  const box = canvas.getBoundingClientRect();
  const x = Math.min(w - 1, Math.floor(((event.clientX - box.left) / box.width) * w));
  const y = Math.min(h - 1, Math.floor(((event.clientY - box.top) / box.height) * h));
  select({ layer, y, x, channel: Number(canvas.dataset.channel) });
}

const KEY_MOVES = { ArrowUp: [-1, 0, 0], ArrowDown: [1, 0, 0], ArrowLeft: [0, -1, 0], ArrowRight: [0, 1, 0], "[": [0, 0, -1], "]": [0, 0, 1], PageUp: [0, 0, -1], PageDown: [0, 0, 1] };

function keyMap(event, layer, h, w, channels) {
  const move = KEY_MOVES[event.key];
  if (!move) return;
  event.preventDefault();
  event.stopPropagation(); // the site turns pages with the arrow keys: not while moving here
  const s = state.selection.layer === layer ? state.selection : { layer, y: h >> 1, x: w >> 1, channel: 0 };
  const clamp = (v, n) => Math.min(Math.max(v, 0), n - 1);
  select({
    layer,
    y: clamp(s.y + move[0], h),
    x: clamp(s.x + move[1], w),
    channel: (s.channel + move[2] + channels) % channels,
  });
}

function select(selection) {
  state.selection = selection;
  state.userSelected = true;
  if (state.result) {
    drawInput();
    drawUnit();
  }
  markSelected();
}

/** Until the reader picks a unit, show the first layer's strongest one: a unit that sees ink. */
function selectStrongest(result) {
  const t = result.activations[0];
  const [, w, channels] = t.shape;
  let best = 0;
  for (let i = 1; i < t.data.length; i++) if (t.data[i] > t.data[best]) best = i;
  const unit = Math.floor(best / channels);
  state.selection = { layer: 0, y: Math.floor(unit / w), x: unit % w, channel: best % channels };
}

function markSelected() {
  const selection = state.selection;
  document.querySelectorAll(".digit-map.is-selected").forEach((c) => c.classList.remove("is-selected"));
  const maps = document.querySelector(`.digit-maps[data-layer="${selection.layer}"]`);
  if (maps) maps.children[selection.channel].classList.add("is-selected");
}

function drawMaps(result) {
  const { ink } = theme();
  document.querySelectorAll(".digit-maps").forEach((maps) => {
    const t = result ? result.activations[Number(maps.dataset.layer)] : null;
    // One scale per layer: which maps respond, and how strongly, compares across the layer.
    let scale = 0;
    if (t) for (const v of t.data) scale = Math.max(scale, v);
    Array.from(maps.children).forEach((canvas, c) => {
      if (t) paintValues(canvas, t.data, t.shape[0], t.shape[1], scale || 1, ink, c, t.shape[2]);
      else canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    });
  });
}

/* ------------------------------------------------------------------ input, bars, status */

function drawInput() {
  const canvas = $("digit-input");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!state.result) return;
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  const { ink, accent } = theme();
  paintValues(small, state.result.input.data, 28, 28, 1, ink);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  const s = state.selection;
  const box = receptiveBox(state.model, s.layer, s.y, s.x);
  const px = canvas.width / 28;
  ctx.strokeStyle = accent;
  ctx.lineWidth = 3;
  ctx.strokeRect(box.left * px + 1.5, box.top * px + 1.5, (box.right - box.left + 1) * px - 3, (box.bottom - box.top + 1) * px - 3);
}

function drawBars(probabilities, predicted) {
  const bars = $("digit-bars");
  bars.replaceChildren();
  for (let k = 0; k < 10; k++) {
    const p = probabilities ? probabilities[k] : 0;
    const item = document.createElement("li");
    item.className = probabilities && k === predicted ? "is-predicted" : "";
    const label = document.createElement("span");
    label.className = "digit-bar-label";
    label.textContent = String(k);
    const track = document.createElement("span");
    track.className = "digit-bar-track";
    const fill = document.createElement("span");
    fill.className = "digit-bar-fill";
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.className = "digit-bar-value";
    value.textContent = `${(100 * p).toFixed(1)} %`;
    item.setAttribute("aria-label", t("digit.barLabel", { digit: k, percent: (100 * p).toFixed(1) }));
    item.append(label, track, value);
    bars.append(item);
  }
}

function setStatus(kind, text) {
  $("digit-explorer").dataset.state = kind;
  $("digit-status").textContent = text;
}

function describeGeometry(prepared) {
  if (!prepared) return t("digit.bundled");
  const { box, scaled, offset } = prepared;
  return t("digit.geometry", {
    h: box.height, w: box.width, sh: scaled.height, sw: scaled.width, top: offset.top, left: offset.left,
  });
}

function showEmpty() {
  state.result = null;
  state.prepared = null;
  setStatus("empty", t("digit.empty"));
  $("digit-explorer").removeAttribute("data-predicted");
  $("digit-geometry").textContent = "";
  drawInput();
  drawMaps(null);
  drawBars(null, -1);
  drawUnit();
}

/* ------------------------------------------------------------------ recomputing */

function currentImage(ctx) {
  if (state.source === "digit") {
    state.prepared = null;
    return Float32Array.from(state.digits.images[state.digitIndex], (v) => v / 255);
  }
  state.prepared = preprocess(inkFromImageData(ctx.getImageData(0, 0, ctx.canvas.width, ctx.canvas.height)));
  return state.prepared ? state.prepared.image : null;
}

let padContext = null;
function recompute() {
  if (!state.model) return;
  const start = performance.now();
  const image = state.source === "empty" ? null : currentImage(padContext);
  const prepared = performance.now();
  let computed = prepared;
  if (!image) {
    showEmpty();
  } else {
    state.result = forward(state.model, image);
    computed = performance.now();
    if (!state.userSelected) {
      selectStrongest(state.result);
      markSelected();
    }
    const { probabilities, predicted } = state.result;
    const read = { predicted, percent: (100 * probabilities[predicted]).toFixed(1) };
    setStatus("ready", state.source === "digit"
      ? t("digit.readsTest", { ...read, label: state.digits.labels[state.digitIndex] })
      : t("digit.reads", read));
    $("digit-explorer").dataset.predicted = String(predicted);
    $("digit-geometry").textContent = describeGeometry(state.prepared);
    drawMaps(state.result);
    drawBars(probabilities, predicted);
    drawInput();
    drawUnit();
  }
  const end = performance.now();
  const ms = end - start;
  state.timings.push(ms);
  state.parts.push({ preprocess: prepared - start, network: computed - prepared, drawing: end - computed });
  state.redraws += 1;
  $("digit-explorer").dataset.redraws = String(state.redraws);
  $("digit-timing").textContent = t("digit.timing", { ms: ms.toFixed(1) });
}

/* ------------------------------------------------------------------ one unit */

function element(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The 3x3 window of a first-layer unit: input x weight = product, cell by cell. */
function productTable(unit) {
  const table = element("table", "digit-products");
  table.append(element("caption", "", t("digit.products")));
  const body = element("tbody");
  for (let i = 0; i < 3; i++) {
    const row = element("tr");
    for (let j = 0; j < 3; j++) {
      const t = unit.terms.find((term) => term.i === i && term.j === j);
      const cell = element("td", t.product > 0 ? "is-positive" : t.product < 0 ? "is-negative" : "");
      cell.append(element("span", "", `${fmt(t.value)} × ${fmt(t.weight)}`), element("strong", "", `= ${fmt(t.product)}`));
      row.append(cell);
    }
    body.append(row);
  }
  table.append(body);
  return table;
}

/** A kernel of C_in > 1: one 3x3 tile per input map, orange for positive weights, blue negative. */
function kernelTiles(layer, channel) {
  const [kh, kw, cin, cout] = layer.kernel.shape;
  const cell = 8, gap = 3, perRow = 8;
  const canvas = element("canvas", "digit-kernel");
  canvas.width = perRow * (kw * cell + gap);
  canvas.height = Math.ceil(cin / perRow) * (kh * cell + gap);
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", t("digit.kernelTiles", { cin }));
  const ctx = canvas.getContext("2d");
  let scale = 0;
  for (let k = channel; k < layer.kernel.data.length; k += cout) scale = Math.max(scale, Math.abs(layer.kernel.data[k]));
  for (let c = 0; c < cin; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const w = layer.kernel.data[((i * kw + j) * cin + c) * cout + channel];
        const [r, g, b] = w >= 0 ? POSITIVE : NEGATIVE;
        ctx.fillStyle = `rgba(${r},${g},${b},${(Math.abs(w) / (scale || 1)).toFixed(3)})`;
        ctx.fillRect((c % perRow) * (kw * cell + gap) + j * cell, Math.floor(c / perRow) * (kh * cell + gap) + i * cell, cell, cell);
      }
    }
  }
  return canvas;
}

/** The input maps that push this unit most: each one's share of the weighted sum. */
function contributionList(unit, below) {
  const byMap = new Map();
  for (const t of unit.terms) byMap.set(t.c, (byMap.get(t.c) || 0) + t.product);
  const top = Array.from(byMap).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 5);
  const list = element("ul", "digit-contributions");
  for (const [c, v] of top) list.append(element("li", "", t("digit.contribution", { n: c + 1, layer: below, value: `${v >= 0 ? "+" : ""}${fmt(v)}` })));
  return list;
}

function convStory(panel, layer, unit, s, h, w) {
  const [kh, kw, cin] = layer.kernel.shape;
  const n = kh * kw * cin;
  const shared = t("digit.shared", { h, w });
  if (cin === 1) {
    panel.append(element("p", "", t("digit.kernel1", { kh, kw, shared })), productTable(unit));
  } else {
    panel.append(
      element("p", "", t("digit.kernelN", { kh, kw, cin, n, shared })),
      kernelTiles(layer, s.channel),
      element("p", "", t("digit.weighMost", { k: kh * kw })),
      contributionList(unit, SHORT_NAMES[s.layer - 1]),
    );
  }
  const sum = element("p", "digit-arithmetic");
  sum.textContent = t("digit.sum", { n, sum: fmt(unit.sum), bias: fmt(unit.bias), z: fmt(unit.z), output: fmt(unit.output) });
  panel.append(sum);
}

function poolStory(panel, layer, s) {
  const below = state.result.activations[s.layer - 1];
  const [, w, c] = below.shape;
  const [ph, pw] = layer.pool_size;
  const values = [];
  for (let i = 0; i < ph; i++) {
    for (let j = 0; j < pw; j++) values.push(below.data[((s.y * layer.strides[0] + i) * w + s.x * layer.strides[1] + j) * c + s.channel]);
  }
  const rows = t("digit.poolRows", { from: s.y * layer.strides[0], to: s.y * layer.strides[0] + ph - 1 });
  const cols = t("digit.poolColumns", { from: s.x * layer.strides[1], to: s.x * layer.strides[1] + pw - 1 });
  panel.append(
    element("p", "", t("digit.pool", { ph, pw, rows, cols, n: s.channel + 1, layer: SHORT_NAMES[s.layer - 1] })),
    element("p", "digit-arithmetic", `max(${values.map(fmt).join(", ")}) = ${fmt(Math.max(...values))}`),
  );
}

function drawUnit() {
  const panel = $("digit-unit");
  const title = $("digit-unit-title");
  panel.replaceChildren(title);
  if (!state.result) {
    panel.append(element("p", "digit-note", t("digit.noUnit")));
    return;
  }
  const s = state.selection;
  const layer = state.model.layers[s.layer];
  const out = state.result.activations[s.layer];
  const [h, w, channels] = out.shape;
  const value = out.data[(s.y * w + s.x) * channels + s.channel];
  const box = receptiveBox(state.model, s.layer, s.y, s.x);
  panel.append(
    element("p", "digit-unit-head", t("digit.unitHead", {
      layer: SHORT_NAMES[s.layer], n: s.channel + 1, count: channels, y: s.y, x: s.x, value: fmt(value),
    })),
    element("p", "", t("digit.field", {
      top: box.top, bottom: box.bottom, left: box.left, right: box.right, h: box.size[0], w: box.size[1],
    })),
  );
  const input = s.layer === 0 ? state.result.input : state.result.activations[s.layer - 1];
  if (layer.type === "Conv2D") convStory(panel, layer, unitArithmetic(layer, input, s.y, s.x, s.channel), s, h, w);
  else poolStory(panel, layer, s);
  panel.append(element("p", "digit-note", t("digit.another")));
}

/* ------------------------------------------------------------------ start */

async function loadDigits() {
  const response = await fetch(new URL("digits.json", import.meta.url));
  if (!response.ok) throw new Error(`digits.json: HTTP ${response.status}`);
  return response.json();
}

function setupPicker(digits) {
  const pick = $("digit-pick");
  digits.images.forEach((_, i) => {
    const option = document.createElement("option");
    option.value = String(i);
    option.textContent = t("digit.option", { label: digits.labels[i], n: i + 1, count: digits.images.length }); // as the filter lab
    pick.append(option);
  });
  pick.disabled = false;
  pick.addEventListener("change", () => {
    if (pick.value === "") return;
    state.source = "digit";
    state.digitIndex = Number(pick.value);
    paintDigitOnPad(padContext, digits.images[state.digitIndex]);
    recompute();
  });
}

async function main() {
  const root = $("digit-explorer");
  if (!root) return;
  padContext = setupPad($("digit-canvas"));
  $("digit-clear").addEventListener("click", () => {
    padContext.clearRect(0, 0, padContext.canvas.width, padContext.canvas.height);
    state.source = "empty";
    $("digit-pick").value = "";
    recompute();
  });
  // furo's theme toggle sets body[data-theme]; the system setting changes prefers-color-scheme.
  const rethemed = () => {
    themeCache = null;
    recolourPad(padContext);
    if (state.model) recompute();
  };
  new MutationObserver(rethemed).observe(document.body, { attributes: true, attributeFilter: ["data-theme"] });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", rethemed);
  window.convopsDigitExplorer = {
    state,
    snapshot: () => ({
      state: root.dataset.state,
      predicted: state.result ? state.result.predicted : null,
      probabilities: state.result ? Array.from(state.result.probabilities) : null,
      input: state.result ? Array.from(state.result.input.data) : null,
      firstLayer: state.result ? Array.from(state.result.activations[0].data) : null,
      timings: state.timings.slice(),
      parts: state.parts.slice(),
      redraws: state.redraws,
    }),
  };
  try {
    const [model, digits] = await Promise.all([loadModel(), loadDigits()]);
    state.model = model;
    state.digits = digits;
    if (!model.verified) {
      const note = t("digit.unverified");
      $("digit-timing").after(element("p", "digit-note", note));
    }
    buildLayers(model);
    setupPicker(digits);
    recompute();
  } catch (error) {
    setStatus("error", t("digit.loadFailed", { error: error.message }));
  }
}

main();
