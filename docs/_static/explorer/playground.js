/* The convolution arithmetic playground (docs/explorer/conv-arithmetic.rst).
 *
 * Reads the controls (operation, input size, kernel, stride, dilation, padding), asks arithmetic.js
 * (the tested port of convops.arithmetic) for the padding and the output size, and draws the padded
 * input with the window at the current output position beside the output grid. Every number shown
 * comes from arithmetic.js; nothing here recomputes an output size.
 *
 * Keys, while the drawing or a player button has the focus: left/right arrows step one output
 * position, up/down one output row, Home/End go to the first/last, space plays or pauses. Stepping
 * pauses. Under `prefers-reduced-motion: reduce` the window starts paused.
 *
 * Every control is clamped to LIMITS, so the largest grid drawn has about 750 cells a side (a
 * transposed convolution at the largest sizes), drawn as runs of equal cells: no value can hang
 * the page. Geometry that convops refuses or that gives an empty output is shown with a message,
 * never thrown.
 */
import {
  effectiveKernelSize,
  poolOutputSize,
  convOutputSize,
  resolvePadding,
  transposedOutputSizeRange,
} from "./arithmetic.js";
import { t } from "./strings.js";

const LIMITS = {
  input: [0, 64],
  kernel: [1, 16],
  stride: [1, 8],
  dilation: [1, 8],
  pad: [0, 32],
  tout: [0, 1024],
};
const STEP_MS = 700;
const MAX_SIDE = 420; // the largest drawing, in CSS px
const MAX_CELL = 36;

// The site's visual grammar (docs/figures/grammar.py): input blue, padding grey and hatched, the
// kernel's window vermillion, output bluish green. Drawn on a white card, as the site's figures are,
// so the colours read the same in light and dark mode.
const COLOURS = {
  card: "#ffffff",
  input: "#a9cce8",
  zero: "#ffffff",
  pad: "#eeeeee",
  padEdge: "#9a9a9a",
  grid: "#555555",
  window: "#D55E00",
  tap: "rgba(213, 94, 0, 0.55)",
  output: "#8fd6bd",
  empty: "#bbbbbb",
};

const $ = (root, id) => root.querySelector("#" + id);

/* ---------------------------------------------------------------- reading the controls */

function clampInt(text, [low, high], fallback) {
  const value = Number.parseInt(text, 10);
  if (!Number.isFinite(value)) {
    return fallback;
  }
  return Math.min(Math.max(value, low), high);
}

function checked(root, name) {
  const input = root.querySelector("input[name='" + name + "']:checked");
  return input ? input.value : null;
}

/** The state the controls describe, each number clamped to LIMITS. */
function readState(root, previous) {
  const number = (id, limits) => clampInt($(root, id).value, limits, previous ? previous[id] : limits[0]);
  return {
    mode: checked(root, "cp-mode") || "conv",
    padding: checked(root, "cp-padding") || "VALID",
    "cp-input": number("cp-input", LIMITS.input),
    "cp-kernel": number("cp-kernel", LIMITS.kernel),
    "cp-stride": number("cp-stride", LIMITS.stride),
    "cp-dilation": number("cp-dilation", LIMITS.dilation),
    "cp-top": number("cp-top", LIMITS.pad),
    "cp-bottom": number("cp-bottom", LIMITS.pad),
    "cp-left": number("cp-left", LIMITS.pad),
    "cp-right": number("cp-right", LIMITS.pad),
    "cp-tout": number("cp-tout", LIMITS.tout),
  };
}

/* ---------------------------------------------------------------- geometry of one axis */

/** The padding argument of arithmetic.js for one axis: "VALID", "SAME" or [before, after]. */
function paddingArgument(state, before, after) {
  return state.padding === "EXPLICIT" ? [state[before], state[after]] : state.padding;
}

/**
 * One axis of the drawing: `length` cells of the (padded) grid, `kind(u)` of each ("input",
 * "zero" for a zero inserted by a transposed convolution, "pad"), the output size `out`, the
 * window's start for output j (`start(j)`) and its taps (`taps`), and the numbers of the formula.
 */
function convAxis(state, before, after, pool) {
  const i = state["cp-input"];
  const k = state["cp-kernel"];
  const s = state["cp-stride"];
  const d = pool ? 1 : state["cp-dilation"];
  const padding = paddingArgument(state, before, after);
  const kEff = effectiveKernelSize(k, d);
  const [pb, pa] = resolvePadding(padding, i, k, s, d);
  const out = pool ? poolOutputSize(i, k, s, padding) : convOutputSize(i, k, s, padding, d);
  return {
    i, k, s, d, kEff, pb, pa, out, padding,
    length: i + pb + pa,
    kind: (u) => (u < pb || u >= pb + i ? "pad" : "input"),
    start: (j) => j * s,
    taps: Array.from({ length: k }, (_, t) => t * d),
  };
}

/**
 * A transposed convolution drawn as Dumoulin and Visin draw it: a stride-1 convolution over the
 * input with s - 1 zeros inserted between its pixels, padded by k_eff - 1 - p_before before (a
 * negative padding crops). Its output size n is the one chosen among those convops.conv2d_transpose
 * accepts; the padding is the forward convolution's, resolved for n.
 */
function transposedAxis(state, before, after, n) {
  const i = state["cp-input"];
  const k = state["cp-kernel"];
  const s = state["cp-stride"];
  const d = state["cp-dilation"];
  const padding = paddingArgument(state, before, after);
  const kEff = effectiveKernelSize(k, d);
  const [pb, pa] = resolvePadding(padding, n, k, s, d);
  const lead = kEff - 1 - pb;
  const stretched = i > 0 ? (i - 1) * s + 1 : 0;
  return {
    i, k, s, d, kEff, pb, pa, out: n, padding, lead, stretched,
    length: n + kEff - 1,
    kind: (u) => {
      const z = u - lead;
      if (z < 0 || z >= stretched) {
        return "pad";
      }
      return z % s === 0 ? "input" : "zero";
    },
    start: (j) => j,
    // The kernel is flipped in this view; the taps are the same cells either way.
    taps: Array.from({ length: k }, (_, t) => t * d),
  };
}

/** Both axes, the output size and any message, for the current state. Never throws. */
function geometry(state) {
  try {
    if (state.mode === "transposed") {
      const rangeOf = (before, after) => transposedOutputSizeRange(
        state["cp-input"], state["cp-kernel"], state["cp-stride"], paddingArgument(state, before, after),
        state["cp-dilation"],
      );
      const range = rangeOf("cp-top", "cp-bottom");
      const rangeW = rangeOf("cp-left", "cp-right");
      // The size asked for, moved into the sizes conv2d_transpose accepts (0 when there are none).
      const n = (r) => (r.stop > r.start ? Math.min(Math.max(state["cp-tout"], r.start), r.stop - 1) : 0);
      const rows = transposedAxis(state, "cp-top", "cp-bottom", n(range));
      const cols = transposedAxis(state, "cp-left", "cp-right", n(rangeW));
      rows.range = range;
      cols.range = rangeW;
      return { rows, cols, message: transposedMessage(range, rangeW) };
    }
    const pool = state.mode === "pool";
    const rows = convAxis(state, "cp-top", "cp-bottom", pool);
    const cols = convAxis(state, "cp-left", "cp-right", pool);
    return { rows, cols, message: convMessage(state, rows, cols, pool) };
  } catch (error) {
    // The controls are clamped, so arithmetic.js should never refuse them; say so if it does.
    return { rows: null, cols: null, message: t("cp.refused", { error: error.message }) };
  }
}

function convMessage(state, rows, cols, pool) {
  if (pool && state.padding === "EXPLICIT" && Math.max(rows.pb, rows.pa, cols.pb, cols.pa) >= rows.k) {
    return t("cp.poolRefused");
  }
  if (rows.out === 0 || cols.out === 0) {
    return t("cp.empty", { kEff: rows.kEff, rows: rows.length, cols: cols.length });
  }
  return "";
}

function transposedMessage(range, rangeW) {
  if (range.stop <= range.start || rangeW.stop <= rangeW.start) {
    return t("cp.noTransposedSize");
  }
  return "";
}

/* ---------------------------------------------------------------- the formula, in words */

/** The formula of one axis with its numbers filled in; `sides` names its two ends. */
function formulaLines(axis, sides, state) {
  const { i, k, d, kEff } = axis;
  const lines = [];
  if (d > 1) {
    lines.push("k_eff = (k − 1)·d + 1 = (" + k + " − 1)·" + d + " + 1 = " + kEff);
  }
  if (state.mode === "transposed") {
    return lines.concat(transposedLines(axis, state));
  }
  const { s, pb, pa } = axis;
  if (state.padding === "SAME") {
    const total = pb + pa;
    const odd = total % 2 ? t("cp.oddPixel", { side: sides[1] }) : "";
    lines.push(
      t("cp.same", { i, s, o: Math.ceil(i / s), total, pb, pa, before: sides[0], after: sides[1], odd }),
    );
  }
  if (i + pb + pa < kEff) {
    lines.push(t("cp.noFit", { n: i + pb + pa, kEff }));
  } else {
    lines.push(
      "o = floor((i + p_before + p_after − k_eff) / s) + 1 = floor((" + i + " + " + pb + " + " + pa + " − " +
        kEff + ") / " + s + ") + 1 = " + axis.out,
    );
  }
  return lines;
}

/** The output sizes conv2d_transpose accepts: the n that a convolution maps back to i. */
function transposedLines(axis, state) {
  const { i, s, kEff, range } = axis;
  const lines = [];
  if (state.padding === "SAME") {
    lines.push(t("cp.transposedSame", { from: (i - 1) * s + 1, to: i * s }));
  } else {
    const p = state.padding === "EXPLICIT" ? axis.padding[0] + axis.padding[1] : 0;
    lines.push(t("cp.transposedValid", { from: (i - 1) * s + kEff - p, to: i * s - 1 + kEff - p }));
  }
  lines.push(
    range.stop > range.start
      ? t("cp.accepts", { from: range.start, to: range.stop - 1, n: axis.out })
      : t("cp.acceptsNone"),
  );
  return lines;
}

function formulaText(geo, state) {
  const { rows, cols } = geo;
  const square = rows.pb === cols.pb && rows.pa === cols.pa && rows.out === cols.out;
  if (square) {
    return [t("cp.rowsAndColumns")].concat(formulaLines(rows, [t("cp.topLeft"), t("cp.bottomRight")], state)).join("\n");
  }
  return [t("cp.rows")]
    .concat(
      formulaLines(rows, [t("cp.top"), t("cp.bottom")], state),
      [t("cp.columns")],
      formulaLines(cols, [t("cp.left"), t("cp.right")], state),
    )
    .join("\n");
}

/* ---------------------------------------------------------------- drawing */

/** Runs of equal kinds along one axis: [{from, to, kind}]. */
function runs(axis) {
  const out = [];
  for (let u = 0; u < axis.length; u += 1) {
    const kind = axis.kind(u);
    if (out.length && out[out.length - 1].kind === kind) {
      out[out.length - 1].to = u + 1;
    } else {
      out.push({ from: u, to: u + 1, kind });
    }
  }
  return out;
}

function combine(a, b) {
  if (a === "pad" || b === "pad") {
    return "pad";
  }
  return a === "zero" || b === "zero" ? "zero" : "input";
}

function sizeCanvas(canvas, width, height) {
  const ratio = window.devicePixelRatio || 1;
  canvas.style.width = width + "px";
  canvas.style.height = height + "px";
  canvas.width = Math.max(1, Math.round(width * ratio));
  canvas.height = Math.max(1, Math.round(height * ratio));
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return ctx;
}

function drawGridLines(ctx, nRows, nCols, cell, colour) {
  ctx.strokeStyle = colour;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let r = 0; r <= nRows; r += 1) {
    ctx.moveTo(0, r * cell + 0.5);
    ctx.lineTo(nCols * cell, r * cell + 0.5);
  }
  for (let c = 0; c <= nCols; c += 1) {
    ctx.moveTo(c * cell + 0.5, 0);
    ctx.lineTo(c * cell + 0.5, nRows * cell);
  }
  ctx.stroke();
}

/** Hatching of the padding and dots of inserted zeros, only where cells are big enough to see. */
function drawCellMarks(ctx, rows, cols, cell) {
  ctx.strokeStyle = COLOURS.padEdge;
  ctx.fillStyle = COLOURS.padEdge;
  ctx.beginPath();
  for (let r = 0; r < rows.length; r += 1) {
    for (let c = 0; c < cols.length; c += 1) {
      const kind = combine(rows.kind(r), cols.kind(c));
      const x = c * cell;
      const y = r * cell;
      if (kind === "pad") {
        for (let t = cell / 3; t < 2 * cell; t += cell / 3) {
          ctx.moveTo(x + Math.max(0, t - cell), y + Math.min(cell, t));
          ctx.lineTo(x + Math.min(cell, t), y + Math.max(0, t - cell));
        }
      } else if (kind === "zero") {
        ctx.fillRect(x + cell / 2 - 1.5, y + cell / 2 - 1.5, 3, 3);
      }
    }
  }
  ctx.stroke();
}

function drawInput(canvas, geo, position, cell) {
  const { rows, cols } = geo;
  const ctx = sizeCanvas(canvas, Math.max(cols.length * cell, 1), Math.max(rows.length * cell, 1));
  ctx.fillStyle = COLOURS.card;
  ctx.fillRect(0, 0, cols.length * cell, rows.length * cell);
  const colRuns = runs(cols);
  for (const rowRun of runs(rows)) {
    for (const colRun of colRuns) {
      ctx.fillStyle = COLOURS[combine(rowRun.kind, colRun.kind)];
      ctx.fillRect(colRun.from * cell, rowRun.from * cell, (colRun.to - colRun.from) * cell, (rowRun.to - rowRun.from) * cell);
    }
  }
  if (cell >= 8) {
    drawCellMarks(ctx, rows, cols, cell);
  }
  if (cell >= 5) {
    drawGridLines(ctx, rows.length, cols.length, cell, COLOURS.grid);
  }
  if (position) {
    drawWindow(ctx, geo, position, cell);
  }
}

function drawWindow(ctx, geo, [r, c], cell) {
  const { rows, cols } = geo;
  const top = rows.start(r);
  const left = cols.start(c);
  ctx.fillStyle = COLOURS.tap;
  for (const dy of rows.taps) {
    for (const dx of cols.taps) {
      ctx.fillRect((left + dx) * cell, (top + dy) * cell, cell, cell);
    }
  }
  ctx.strokeStyle = COLOURS.window;
  ctx.lineWidth = Math.max(2, Math.min(4, cell / 6));
  ctx.strokeRect(left * cell + 1, top * cell + 1, cols.kEff * cell - 2, rows.kEff * cell - 2);
}

function drawOutput(canvas, geo, position, cell) {
  const nRows = geo.rows.out;
  const nCols = geo.cols.out;
  const ctx = sizeCanvas(canvas, Math.max(nCols * cell, 1), Math.max(nRows * cell, 1));
  ctx.fillStyle = COLOURS.output;
  ctx.fillRect(0, 0, nCols * cell, nRows * cell);
  if (cell >= 5) {
    drawGridLines(ctx, nRows, nCols, cell, COLOURS.grid);
  }
  if (position) {
    // At least 6 px, centred on the cell, so that the current cell stays visible on a huge output.
    const mark = Math.max(cell, 6);
    const x = Math.min(Math.max(position[1] * cell + (cell - mark) / 2, 0), nCols * cell - mark);
    const y = Math.min(Math.max(position[0] * cell + (cell - mark) / 2, 0), nRows * cell - mark);
    ctx.fillStyle = COLOURS.tap;
    ctx.fillRect(x, y, mark, mark);
    ctx.strokeStyle = COLOURS.window;
    ctx.lineWidth = Math.max(2, Math.min(4, cell / 6));
    ctx.strokeRect(x + 1, y + 1, mark - 2, mark - 2);
  }
}

/* ---------------------------------------------------------------- the page */

/** Where the window lies, in cells of the padded grid counted from 0. */
function windowText(geo, [r, c]) {
  const top = geo.rows.start(r);
  const left = geo.cols.start(c);
  return t("cp.window", {
    top, bottom: top + geo.rows.kEff - 1, left, right: left + geo.cols.kEff - 1,
  });
}

function describeInput(geo, position) {
  const size = { rows: geo.rows.length, cols: geo.cols.length };
  return position ? t("cp.inputLabelAt", { ...size, window: windowText(geo, position) }) : t("cp.inputLabel", size);
}

export function init(root) {
  const player = { index: 0, playing: false, timer: null };
  let state = readState(root, null);
  let geo = geometry(state);
  const inputCanvas = $(root, "cp-input-canvas");
  const outputCanvas = $(root, "cp-output-canvas");
  const toggle = $(root, "cp-play");

  function count() {
    return geo.rows ? geo.rows.out * geo.cols.out : 0;
  }

  function position() {
    const n = count();
    if (!n) {
      return null;
    }
    player.index = ((player.index % n) + n) % n;
    return [Math.floor(player.index / geo.cols.out), player.index % geo.cols.out];
  }

  function cellSizes() {
    const stage = $(root, "cp-stage");
    const room = Math.min(MAX_SIDE, stage.clientWidth || MAX_SIDE);
    const side = Math.max(geo.rows.length, geo.cols.length, 1);
    const input = Math.min(MAX_CELL, room / side);
    const outSide = Math.max(geo.rows.out, geo.cols.out, 1);
    return [input, Math.min(Math.max(input, 4), MAX_CELL, room / outSide)];
  }

  function render() {
    const where = position();
    const size = $(root, "cp-output-size");
    $(root, "cp-message").textContent = geo.message;
    root.classList.toggle("cp-has-message", Boolean(geo.message));
    if (!geo.rows) {
      size.textContent = "—";
      return;
    }
    size.textContent = geo.rows.out + " × " + geo.cols.out;
    size.dataset.rows = String(geo.rows.out);
    size.dataset.cols = String(geo.cols.out);
    $(root, "cp-formula").textContent = formulaText(geo, state);
    const [inCell, outCell] = cellSizes();
    drawInput(inputCanvas, geo, where, inCell);
    drawOutput(outputCanvas, geo, where, outCell);
    outputCanvas.hidden = count() === 0;
    $(root, "cp-output-caption").textContent = count() === 0
      ? t("cp.outputEmpty", { rows: geo.rows.out, cols: geo.cols.out })
      : t("cp.outputCaption");
    inputCanvas.setAttribute("aria-label", describeInput(geo, where));
    const out = { rows: geo.rows.out, cols: geo.cols.out };
    outputCanvas.setAttribute("aria-label", where
      ? t("cp.outputLabelAt", { ...out, row: where[0], col: where[1] })
      : t("cp.outputLabel", out));
    $(root, "cp-position").textContent = where
      ? t("cp.position", {
        row: where[0], col: where[1], n: player.index + 1, count: count(), window: windowText(geo, where),
      })
      : t("cp.noPosition");
    root.dataset.position = where ? where.join(",") : "";
  }

  function setPlaying(on) {
    player.playing = on && count() > 1;
    window.clearTimeout(player.timer);
    toggle.setAttribute("aria-label", t(player.playing ? "cp.pause" : "cp.play"));
    toggle.textContent = t(player.playing ? "cp.pauseButton" : "cp.playButton");
    root.dataset.playing = player.playing ? "true" : "false";
    $(root, "cp-position").setAttribute("aria-live", player.playing ? "off" : "polite");
    if (player.playing) {
      player.timer = window.setTimeout(() => {
        player.index += 1;
        render();
        setPlaying(true);
      }, STEP_MS);
    }
  }

  function step(by) {
    setPlaying(false);
    player.index += by;
    render();
  }

  function update(event) {
    const target = event && event.target;
    if (target && target.id && target.id.endsWith("-slider")) {
      $(root, target.id.slice(0, -"-slider".length)).value = target.value; // the box is what is read
    }
    state = readState(root, state);
    syncControls(root, state, event);
    geo = geometry(state);
    showTransposedSize(event);
    render();
    if (player.playing && count() < 2) {
      setPlaying(false);
    }
  }

  /** The output-size box of a transposed convolution offers only the sizes conv2d_transpose accepts. */
  function showTransposedSize(event) {
    const box = $(root, "cp-tout");
    if (state.mode !== "transposed" || !geo.rows || geo.rows.range.stop <= geo.rows.range.start) {
      return;
    }
    box.min = String(geo.rows.range.start);
    box.max = String(geo.rows.range.stop - 1);
    if (!event || event.type === "change" || event.target !== box) {
      box.value = String(geo.rows.out);
      state["cp-tout"] = geo.rows.out;
    }
  }

  function onKey(event) {
    const cols = geo.cols ? Math.max(geo.cols.out, 1) : 1;
    const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -cols, ArrowDown: cols };
    if (event.key in moves) {
      step(moves[event.key]);
    } else if (event.key === "Home" || event.key === "End") {
      setPlaying(false);
      player.index = event.key === "Home" ? 0 : count() - 1;
      render();
    } else if (event.key === " ") {
      setPlaying(!player.playing);
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation(); // the site turns pages with the arrow keys: not while stepping here
  }

  root.querySelector("form").addEventListener("submit", (event) => event.preventDefault());
  root.querySelector("form").addEventListener("input", update);
  root.querySelector("form").addEventListener("change", update);
  $(root, "cp-prev").addEventListener("click", () => step(-1));
  $(root, "cp-next").addEventListener("click", () => step(1));
  toggle.addEventListener("click", () => setPlaying(!player.playing));
  for (const element of [$(root, "cp-stage"), $(root, "cp-prev"), $(root, "cp-next"), toggle]) {
    element.addEventListener("keydown", onKey);
  }
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(() => render()).observe($(root, "cp-stage"));
  }
  syncControls(root, state, null);
  showTransposedSize(null);
  render();
  root.dataset.ready = "true";
  const still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  setPlaying(!still);
}

/**
 * Keep each slider and its number box equal, write clamped values back once a value is committed
 * (not while the reader types), and enable only the controls that mean something in this mode.
 */
function syncControls(root, state, event) {
  const source = event && event.target;
  for (const id of ["cp-input", "cp-kernel", "cp-stride", "cp-dilation"]) {
    const box = $(root, id);
    const slider = $(root, id + "-slider");
    if (!event || event.type === "change" || source !== box) {
      box.value = String(state[id]);
    }
    slider.value = String(state[id]);
  }
  for (const id of ["cp-top", "cp-bottom", "cp-left", "cp-right", "cp-tout"]) {
    if (!event || event.type === "change" || source !== $(root, id)) {
      $(root, id).value = String(state[id]);
    }
  }
  const explicit = state.padding === "EXPLICIT";
  for (const id of ["cp-top", "cp-bottom", "cp-left", "cp-right"]) {
    $(root, id).disabled = !explicit;
  }
  $(root, "cp-dilation").disabled = state.mode === "pool";
  $(root, "cp-dilation-slider").disabled = state.mode === "pool";
  $(root, "cp-tout").disabled = state.mode !== "transposed";
  root.dataset.mode = state.mode;
}

for (const root of document.querySelectorAll(".convops-playground")) {
  init(root);
}
