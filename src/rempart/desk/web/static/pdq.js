// PDQ in a Worker: the page posts a photo and gets back its 256-bit hash and quality; the
// photo itself never leaves the browser.
//
// A port of src/rempart/hashing/pdq.py, step for step (read it first): the same luma, the
// reference's 512 x 512 nearest-neighbour step, tent filter, decimation to 64 x 64, 16 x 16
// DCT, median threshold and quality, with its float32 roundings, so that the same pixels give
// the same bits here and in Python. As there, only the pixels the decimated tent filter reads
// are gathered: at most 448 rows and 448 columns, whatever the photo's size.
//
// Pixels come from the browser's decode of the full file (createImageBitmap: EXIF orientation
// applied, no colour conversion, no premultiplication), read back through WebGL2 with
// premultiplication off. A 2D canvas premultiplies alpha (a PNG with a transparent area then
// hashes 48 bits away), so it is only the fallback where WebGL2 is missing, and it says so.
//
// In:  {file: File}, or {pixels: Uint8ClampedArray (RGBA), width, height} (tests).
// Out, in the order asked: {ok: true, hash: "<64 hex>", quality, width, height,
//      path: "webgl2" | "canvas" | "pixels"}
//   or {ok: false, code: "undecodable" | "low_quality" | "too_large", message}.
"use strict";

const REFERENCE_SIDE = 512; // larger images are resized to 512 x 512 first (pdqio.cpp)
const MIN_SIDE = 5; // smaller images hash to zero, quality 0 (MIN_HASHABLE_DIM)
const OUT = 64; // the tent filter's output is decimated to 64 x 64
const DCT_SIZE = 16;
const MIN_QUALITY = 50; // rempart.hashing.pdq.MIN_QUALITY
const MAX_BYTES = 64 * 1024 * 1024; // rempart.media.DEFAULT_MAX_BYTES
const MAX_PIXELS = 150000000; // rempart.media.DEFAULT_MAX_PIXELS
const CANVAS_TILE = 8192; // columns a fallback canvas holds at once

const f32 = Math.fround; // numpy's float32 arithmetic, one rounding per operation
const LUMA = [f32(0.299), f32(0.587), f32(0.114)];

class Refusal extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// ---- the plan: which source pixels feed the 64 x 64 output, and with what weights ----------

// The reference's 1-D box filter: a mean over [out - before, out + after], cut at the edges.
function boxSpan(length, window) {
  const half = Math.floor((window + 2) / 2);
  const before = window - half;
  const after = half - 1;
  return (out) => [Math.max(0, out - before), Math.min(length - 1, out + after)];
}

// The tent filter (two box passes) at the 64 decimation points of an axis of `length` pixels:
// for output i, taps[i] lists [position, weight] in increasing position (pdq.py _tent_taps).
function tentTaps(length) {
  const window = Math.floor((length + 2 * OUT - 1) / (2 * OUT));
  const span = boxSpan(length, window);
  const taps = [];
  for (let out = 0; out < OUT; out++) {
    const centre = Math.floor(((out + 0.5) * length) / OUT);
    const weights = new Map();
    const [low, high] = span(centre);
    for (let middle = low; middle <= high; middle++) {
      const [from, to] = span(middle);
      const share = (1 / (high - low + 1)) * (1 / (to - from + 1));
      for (let position = from; position <= to; position++) {
        weights.set(position, (weights.get(position) ?? 0) + share);
      }
    }
    const sorted = [...weights.entries()].sort((a, b) => a[0] - b[0]);
    taps.push(sorted.map(([position, weight]) => [position, f32(weight)]));
  }
  return taps;
}

// One axis: the distinct source positions read, and for each output its taps as indices into
// them. A side over 512 is first sampled at 512 positions, corner-aligned (CImg's resize).
function axisPlan(side, resized) {
  const length = resized ? REFERENCE_SIDE : side;
  const taps = tentTaps(length).map((row) =>
    row.map(([position, weight]) => [Math.floor((position * side) / length), weight]),
  );
  const positions = [...new Set(taps.flat().map(([source]) => source))].sort((a, b) => a - b);
  const slot = new Map(positions.map((source, index) => [source, index]));
  return {
    positions: Int32Array.from(positions),
    taps: taps.map((row) => row.map(([source, weight]) => [slot.get(source), weight])),
  };
}

function imagePlan(width, height) {
  const resized = width > REFERENCE_SIDE || height > REFERENCE_SIDE;
  return { width, height, rows: axisPlan(height, resized), cols: axisPlan(width, resized) };
}

// ---- gathering: the luma of the needed pixels, however they were read ---------------------

// The luma of every needed pixel that `rgba` holds: needed row r is its row rowAt[r], needed
// column c its column colAt[c] (-1: not there); `stride` pixels a row, 4 bytes a pixel.
function gatherLuma(luma, rgba, stride, rowAt, colAt) {
  const columns = colAt.length;
  for (let r = 0; r < rowAt.length; r++) {
    if (rowAt[r] < 0) continue;
    for (let c = 0; c < columns; c++) {
      if (colAt[c] < 0) continue;
      const at = (rowAt[r] * stride + colAt[c]) * 4;
      const red = f32(LUMA[0] * rgba[at]);
      const green = f32(LUMA[1] * rgba[at + 1]);
      luma[r * columns + c] = f32(f32(red + green) + f32(LUMA[2] * rgba[at + 2]));
    }
  }
}

// Gather from a decoded bitmap, reading only the needed rows, stacked one under the other (at
// most 512 rows, whatever the photo's height), in tiles of at most `tileWidth` columns:
// `readTile(left, width)` returns the stacked rows' RGBA for columns left..left + width.
function gatherStacked(plan, luma, tileWidth, readTile) {
  const stacked = plan.rows.positions.map((_, index) => index);
  for (let left = 0; left < plan.width; left += tileWidth) {
    const width = Math.min(tileWidth, plan.width - left);
    const inTile = (col) => col >= left && col < left + width;
    const colAt = plan.cols.positions.map((col) => (inTile(col) ? col - left : -1));
    gatherLuma(luma, readTile(left, width), width, stacked, colAt);
  }
}

// ---- the hash: tent filter at the decimation points, DCT, median, quality ------------------

function decimate(plan, luma) {
  const stride = plan.cols.positions.length;
  const small = new Float32Array(OUT * OUT);
  for (let a = 0; a < OUT; a++) {
    const rowTaps = plan.rows.taps[a];
    for (let b = 0; b < OUT; b++) {
      let sum = 0;
      for (const [col, colWeight] of plan.cols.taps[b]) {
        let alongRows = 0; // pdq.py's first einsum, kept in float32 as there
        for (const [row, rowWeight] of rowTaps) alongRows += rowWeight * luma[row * stride + col];
        sum += f32(alongRows) * colWeight;
      }
      small[a * OUT + b] = sum;
    }
  }
  return small;
}

let dctMatrix = null; // rows 1..16 of the 64-point DCT-II, scaled by sqrt(2/64); made once

function dct16(small) {
  if (dctMatrix === null) {
    dctMatrix = new Float32Array(DCT_SIZE * OUT);
    for (let i = 0; i < DCT_SIZE; i++) {
      for (let p = 0; p < OUT; p++) {
        const angle = (Math.PI / 2 / OUT) * (i + 1) * (2 * p + 1);
        dctMatrix[i * OUT + p] = Math.sqrt(2 / OUT) * Math.cos(angle);
      }
    }
  }
  const half = new Float32Array(DCT_SIZE * OUT); // matrix @ small
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let b = 0; b < OUT; b++) {
      let sum = 0;
      for (let a = 0; a < OUT; a++) sum += dctMatrix[i * OUT + a] * small[a * OUT + b];
      half[i * OUT + b] = sum;
    }
  }
  const block = new Float32Array(DCT_SIZE * DCT_SIZE); // (matrix @ small) @ matrix.T
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < DCT_SIZE; j++) {
      let sum = 0;
      for (let b = 0; b < OUT; b++) sum += half[i * OUT + b] * dctMatrix[j * OUT + b];
      block[i * DCT_SIZE + j] = sum;
    }
  }
  return block;
}

// The reference's image-domain quality: quantised gradient sum / 90, capped at 100.
function quality(small) {
  const scale = f32(100);
  const full = f32(255);
  const step = (from, to) => Math.abs(Math.trunc(f32(f32(f32(from - to) * scale) / full)));
  let sum = 0;
  for (let a = 0; a < OUT; a++) {
    for (let b = 0; b < OUT; b++) {
      if (a + 1 < OUT) sum += step(small[a * OUT + b], small[(a + 1) * OUT + b]);
      if (b + 1 < OUT) sum += step(small[a * OUT + b], small[a * OUT + b + 1]);
    }
  }
  return Math.min(100, Math.floor(sum / 90));
}

// Bit 16 i + j is set when coefficient (i, j) is above the median (the 128th smallest); the
// hex is big-endian, bit 255 first.
function hexBits(block) {
  const median = Float32Array.from(block).sort()[127];
  let hex = "";
  for (let nibble = 0; nibble < 64; nibble++) {
    let value = 0;
    for (let t = 0; t < 4; t++) value = (value << 1) | (block[255 - 4 * nibble - t] > median);
    hex += value.toString(16);
  }
  return hex;
}

function pdq(plan, luma) {
  if (plan.width < MIN_SIDE || plan.height < MIN_SIDE) return { hash: "0".repeat(64), quality: 0 };
  const small = decimate(plan, luma);
  return { hash: hexBits(dct16(small)), quality: quality(small) };
}

function lumaBuffer(plan) {
  return new Float32Array(plan.rows.positions.length * plan.cols.positions.length);
}

// ---- reading a decoded bitmap ---------------------------------------------------------------

let gl; // the WebGL2 context, made on first use; null where the browser has none

function webgl2() {
  if (gl === undefined) {
    try {
      gl = new OffscreenCanvas(1, 1).getContext("webgl2", { antialias: false, depth: false });
    } catch {
      gl = null;
    }
  }
  return gl && !gl.isContextLost() ? gl : null;
}

// The needed rows, uploaded one by one into a texture of their own (a 12-megapixel photo
// needs 448 of its 3,000 rows: cheaper than uploading it whole) and read back through a
// framebuffer. The texture holds the bitmap's bytes as they are: not premultiplied, not
// colour converted.
function readWebGL(context, bitmap, plan, luma) {
  const rows = plan.rows.positions;
  const tileWidth = Math.min(plan.width, context.getParameter(context.MAX_TEXTURE_SIZE));
  const texture = context.createTexture();
  const framebuffer = context.createFramebuffer();
  try {
    context.bindTexture(context.TEXTURE_2D, texture);
    context.texStorage2D(context.TEXTURE_2D, 1, context.RGBA8, tileWidth, rows.length);
    context.bindFramebuffer(context.FRAMEBUFFER, framebuffer);
    const attachment = context.COLOR_ATTACHMENT0;
    context.framebufferTexture2D(context.FRAMEBUFFER, attachment, context.TEXTURE_2D, texture, 0);
    if (context.checkFramebufferStatus(context.FRAMEBUFFER) !== context.FRAMEBUFFER_COMPLETE) {
      throw new Error("WebGL2 cannot read this texture back");
    }
    context.pixelStorei(context.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    context.pixelStorei(context.UNPACK_FLIP_Y_WEBGL, false);
    context.pixelStorei(context.UNPACK_COLORSPACE_CONVERSION_WEBGL, context.NONE);
    gatherStacked(plan, luma, tileWidth, (left, width) => {
      context.pixelStorei(context.UNPACK_SKIP_PIXELS, left);
      rows.forEach((row, index) => {
        context.pixelStorei(context.UNPACK_SKIP_ROWS, row);
        const [target, format, type] = [context.TEXTURE_2D, context.RGBA, context.UNSIGNED_BYTE];
        context.texSubImage2D(target, 0, 0, index, width, 1, format, type, bitmap);
      });
      const rgba = new Uint8Array(4 * width * rows.length);
      // Texture row 0 is the first row uploaded: no flip on the way back.
      context.readPixels(0, 0, width, rows.length, context.RGBA, context.UNSIGNED_BYTE, rgba);
      return rgba;
    });
    const error = context.getError();
    if (error !== context.NO_ERROR) throw new Error(`WebGL2 error ${error}`);
  } finally {
    context.pixelStorei(context.UNPACK_SKIP_PIXELS, 0);
    context.pixelStorei(context.UNPACK_SKIP_ROWS, 0);
    context.bindFramebuffer(context.FRAMEBUFFER, null);
    context.deleteFramebuffer(framebuffer);
    context.deleteTexture(texture);
  }
}

// The fallback: the same rows through a 2D canvas, which premultiplies alpha (a transparent
// area reads as black) and so may hash a photo with transparency differently.
function readCanvas(bitmap, plan, luma) {
  const rows = plan.rows.positions;
  const canvas = new OffscreenCanvas(Math.min(plan.width, CANVAS_TILE), rows.length);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.imageSmoothingEnabled = false;
  gatherStacked(plan, luma, canvas.width, (left, width) => {
    context.clearRect(0, 0, canvas.width, canvas.height);
    rows.forEach((row, at) => context.drawImage(bitmap, left, row, width, 1, 0, at, width, 1));
    return context.getImageData(0, 0, width, rows.length).data;
  });
}

async function decode(file) {
  if (!(file instanceof Blob)) throw new TypeError("post {file: File} or {pixels, width, height}");
  if (file.size > MAX_BYTES) {
    throw new Refusal("too_large", `The file is over ${MAX_BYTES / 1024 / 1024} MiB.`);
  }
  try {
    return await createImageBitmap(file, {
      imageOrientation: "from-image",
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
  } catch (error) {
    throw new Refusal(
      "undecodable",
      "This browser cannot read this image (HEIC photos, for one). Hash it on your computer " +
        `with the command line instead: rempart report PHOTO (${error.message})`,
    );
  }
}

async function hashFile(file) {
  const bitmap = await decode(file);
  try {
    const { width, height } = bitmap;
    if (width * height > MAX_PIXELS) {
      throw new Refusal("too_large", `The image has over ${MAX_PIXELS / 1e6} megapixels.`);
    }
    const plan = imagePlan(width, height);
    const luma = lumaBuffer(plan);
    let path = "webgl2";
    const context = webgl2();
    try {
      if (context === null) throw new Error("no WebGL2");
      readWebGL(context, bitmap, plan, luma);
    } catch {
      path = "canvas";
      readCanvas(bitmap, plan, luma);
    }
    return { ...pdq(plan, luma), width, height, path };
  } finally {
    bitmap.close();
  }
}

function hashPixels({ pixels, width, height }) {
  const sized = Number.isInteger(width) && Number.isInteger(height);
  if (!sized || pixels.length !== 4 * width * height) {
    throw new TypeError("pixels must hold width x height RGBA pixels");
  }
  const plan = imagePlan(width, height);
  const luma = lumaBuffer(plan);
  gatherLuma(luma, pixels, width, plan.rows.positions, plan.cols.positions);
  return { ...pdq(plan, luma), width, height, path: "pixels" };
}

async function answer(message) {
  try {
    const result = message.pixels ? hashPixels(message) : await hashFile(message.file);
    if (result.quality < MIN_QUALITY) {
      const message = `The image is too plain to hash usefully (quality ${result.quality}).`;
      return { ok: false, code: "low_quality", message };
    }
    return { ok: true, ...result };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, code: error.code, message: error.message };
    const message = `This image could not be hashed: ${error.message}`;
    return { ok: false, code: "undecodable", message };
  }
}

// One photo at a time, answered in the order asked (a 12-megapixel decode holds 48 MB).
let queue = Promise.resolve();
self.onmessage = (event) => {
  queue = queue.then(() => answer(event.data)).then((reply) => self.postMessage(reply));
};
