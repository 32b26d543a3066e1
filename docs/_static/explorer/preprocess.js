/* MNIST's preprocessing of a drawing, as LeCun et al. made the MNIST digits:
 *
 *   1. crop the drawing to the bounding box of its inked pixels;
 *   2. scale the box to fit 20 x 20, keeping its aspect ratio (the longer side becomes 20, the
 *      other round(20 * short / long), at least 1), by area averaging: each new pixel is the
 *      mean of the drawing's pixels it covers, weighted by overlap. That is the anti-aliasing
 *      that turns edges grey, as in MNIST;
 *   3. paste it into a 28 x 28 image so that its centre of mass falls on the centre (13.5, 13.5),
 *      moved by whole pixels and kept inside the image.
 *
 * The readable NumPy twin is tests/js/fixtures_network.py `preprocess`; tests/js/preprocess.test.mjs
 * checks that the two agree on drawings rasterised once, in Python.
 */

export const BOX = 20;
export const SIDE = 28;

/** Math.round rounds halves up (floor(x + 0.5)); the Python twin does the same on purpose. */
function roundHalfUp(x) {
  return Math.floor(x + 0.5);
}

/** The ink of a canvas's ImageData, 0..255 per pixel: its alpha channel. The page draws opaque
 * strokes on a transparent canvas, so alpha is the ink whatever the colour (light or dark theme). */
export function inkFromImageData(imageData) {
  const { width, height, data } = imageData;
  const ink = new Uint8ClampedArray(width * height);
  for (let i = 0; i < ink.length; i++) ink[i] = data[4 * i + 3];
  return { width, height, data: ink };
}

/** The rows [first, last] and columns [first, last] holding ink, or null when there is none. */
export function boundingBox({ width, height, data }) {
  let top = height, bottom = -1, left = width, right = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] > 0) {
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  return bottom < 0 ? null : { top, left, height: bottom - top + 1, width: right - left + 1 };
}

/** (outputSize x inputSize) weights: output pixel i averages the input interval [i*step, (i+1)*step). */
export function areaWeights(inputSize, outputSize) {
  const step = inputSize / outputSize;
  const rows = [];
  for (let i = 0; i < outputSize; i++) {
    const lo = i * step, hi = (i + 1) * step;
    const row = new Float64Array(inputSize);
    for (let r = Math.floor(lo); r < Math.min(Math.ceil(hi), inputSize); r++) {
      row[r] = (Math.min(hi, r + 1) - Math.max(lo, r)) / step;
    }
    rows.push(row);
  }
  return rows;
}

/** The cropped box scaled to (th x tw): rowWeights @ crop @ colWeights^T, in float64. */
function scaleBox(drawing, box, th, tw) {
  const rowW = areaWeights(box.height, th);
  const colW = areaWeights(box.width, tw);
  // First the columns (each row of the crop -> tw values), then the rows.
  const narrow = [];
  for (let r = 0; r < box.height; r++) {
    const start = (box.top + r) * drawing.width + box.left;
    const line = new Float64Array(tw);
    for (let j = 0; j < tw; j++) {
      let sum = 0;
      for (let c = 0; c < box.width; c++) sum += (drawing.data[start + c] / 255) * colW[j][c];
      line[j] = sum;
    }
    narrow.push(line);
  }
  const small = new Float64Array(th * tw);
  for (let i = 0; i < th; i++) {
    for (let j = 0; j < tw; j++) {
      let sum = 0;
      for (let r = 0; r < box.height; r++) sum += rowW[i][r] * narrow[r][j];
      small[i * tw + j] = sum;
    }
  }
  return small;
}

/** The centre of mass (row, column) of an (h x w) image, in pixel indices. */
function centreOfMass(image, h, w) {
  let mass = 0, my = 0, mx = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = image[y * w + x];
      mass += v;
      my += v * y;
      mx += v * x;
    }
  }
  return { y: my / mass, x: mx / mass };
}

/**
 * A drawing {width, height, data: ink 0..255 per pixel, row-major} -> MNIST's 28 x 28 input.
 * Returns null when nothing is drawn (no pixel has ink); otherwise
 * {image: Float32Array(784) in [0, 1], box, scaled: {height, width}, offset: {top, left}, centre}.
 */
export function preprocess(drawing) {
  const box = boundingBox(drawing);
  if (box === null) return null;
  const scale = BOX / Math.max(box.height, box.width);
  const th = Math.max(1, roundHalfUp(box.height * scale));
  const tw = Math.max(1, roundHalfUp(box.width * scale));
  const small = scaleBox(drawing, box, th, tw);
  const centre = centreOfMass(small, th, tw);
  if (!Number.isFinite(centre.y) || !Number.isFinite(centre.x)) return null; // ink too faint to weigh
  const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
  const top = clamp(roundHalfUp((SIDE - 1) / 2 - centre.y), SIDE - th);
  const left = clamp(roundHalfUp((SIDE - 1) / 2 - centre.x), SIDE - tw);
  const image = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) image[(top + y) * SIDE + left + x] = small[y * tw + x];
  }
  return { image, box, scaled: { height: th, width: tw }, offset: { top, left }, centre };
}
