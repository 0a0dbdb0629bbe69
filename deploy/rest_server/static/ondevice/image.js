// RGB images as plain objects, {width, height, data: Uint8ClampedArray of width * height * 3}, and
// the resampling the core does with Pillow (glasses_core/geometry.py, face_detect.py, image_io.py):
// box reduction, antialiased bilinear resizing, affine bilinear sampling. No DOM here.

export function rgbImage(width, height, data = new Uint8ClampedArray(width * height * 3)) {
  return { width, height, data };
}

// Pillow's Image.reduce(factor): each output pixel the mean of a factor x factor block (the last,
// partial blocks the mean of the pixels they have); the output is ceil(size / factor).
export function reduce(image, factor) {
  if (factor === 1) return image;
  const { width, height, data } = image;
  const w = Math.ceil(width / factor), h = Math.ceil(height / factor);
  const out = new Uint8ClampedArray(w * h * 3);
  const sums = new Float64Array(w * 3);
  for (let oy = 0; oy < h; oy++) {
    sums.fill(0);
    const y0 = oy * factor, y1 = Math.min(y0 + factor, height);
    for (let y = y0; y < y1; y++) {
      let i = y * width * 3;
      for (let x = 0; x < width; x++, i += 3) {
        const o = Math.floor(x / factor) * 3;
        sums[o] += data[i]; sums[o + 1] += data[i + 1]; sums[o + 2] += data[i + 2];
      }
    }
    for (let ox = 0; ox < w; ox++) {
      const count = (Math.min((ox + 1) * factor, width) - ox * factor) * (y1 - y0);
      for (let c = 0; c < 3; c++) out[(oy * w + ox) * 3 + c] = Math.round(sums[ox * 3 + c] / count);
    }
  }
  return rgbImage(w, h, out);
}

// Pillow's resampling weights for one axis: the triangle (bilinear) filter, widened by the
// scale when shrinking (so shrinking averages, as an antialiased resize does).
function weights(inSize, outSize, box0, box1) {
  const scale = (box1 - box0) / outSize;
  const support = Math.max(scale, 1);
  const result = [];
  for (let x = 0; x < outSize; x++) {
    const centre = box0 + (x + 0.5) * scale;
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
    const hi = Math.min(Math.trunc(centre + support + 0.5), inSize);
    const ws = [];
    let total = 0;
    for (let k = lo; k < hi; k++) {
      const w = Math.max(0, 1 - Math.abs((k - centre + 0.5) / support));
      ws.push(w);
      total += w;
    }
    result.push({ lo, ws: ws.map((w) => (total ? w / total : 0)) });
  }
  return result;
}

// Pillow's resize(size, BILINEAR): horizontal pass, then vertical, each rounded to bytes.
// ``box``: the source rectangle [x0, y0, x1, y1] (fractional), by default the whole image.
export function resize(image, width, height, box = [0, 0, image.width, image.height]) {
  const across = weights(image.width, width, box[0], box[2]);
  const down = weights(image.height, height, box[1], box[3]);
  const rowLo = down[0].lo, rowHi = down[height - 1].lo + down[height - 1].ws.length;
  const mid = new Uint8ClampedArray(width * (rowHi - rowLo) * 3);
  const src = image.data;
  for (let y = rowLo; y < rowHi; y++) {
    for (let x = 0; x < width; x++) {
      const { lo, ws } = across[x];
      let r = 0, g = 0, b = 0;
      for (let k = 0, i = (y * image.width + lo) * 3; k < ws.length; k++, i += 3) {
        r += src[i] * ws[k]; g += src[i + 1] * ws[k]; b += src[i + 2] * ws[k];
      }
      const o = ((y - rowLo) * width + x) * 3;
      mid[o] = Math.round(r); mid[o + 1] = Math.round(g); mid[o + 2] = Math.round(b);
    }
  }
  const out = new Uint8ClampedArray(width * height * 3);
  for (let y = 0; y < height; y++) {
    const { lo, ws } = down[y];
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (let k = 0, i = ((lo - rowLo) * width + x) * 3; k < ws.length; k++, i += width * 3) {
        r += mid[i] * ws[k]; g += mid[i + 1] * ws[k]; b += mid[i + 2] * ws[k];
      }
      const o = (y * width + x) * 3;
      out[o] = Math.round(r); out[o + 1] = Math.round(g); out[o + 2] = Math.round(b);
    }
  }
  return rgbImage(width, height, out);
}

// Pillow's resize(size, BILINEAR, reducing_gap=3.0): first a box reduction by the whole factor
// that leaves at least 3x to the filter, then the filter on the rest.
export function resizeReducing(image, width, height, gap = 3.0) {
  const fx = Math.max(1, Math.trunc(image.width / width / gap));
  const fy = Math.max(1, Math.trunc(image.height / height / gap));
  if (fx === 1 && fy === 1) return resize(image, width, height);
  const factor = Math.min(fx, fy);  // the core's photos shrink evenly: one factor for both
  const small = reduce(image, factor);
  return resize(small, width, height, [0, 0, image.width / factor, image.height / factor]);
}

// Pillow's transform(size, AFFINE, (a, b, c, d, e, f), BILINEAR): output pixel centre (u, v) reads
// the source at (a u + b v + c, d u + e v + f), bilinearly, neighbours clamped at the edges;
// a point outside the source is black, or with ``outside`` "edge" reads its nearest edge pixel
// (the source carried on past its edges: glasses_core/geometry.py's cut, outside="edge").
export function affine(image, size, [a, b, c, d, e, f], outside = "black") {
  const { width, height, data } = image;
  const black = outside === "black";
  const out = new Uint8ClampedArray(size * size * 3);
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      const xs = a * (u + 0.5) + b * (v + 0.5) + c, ys = d * (u + 0.5) + e * (v + 0.5) + f;
      if (black && (xs < 0 || xs >= width || ys < 0 || ys >= height)) continue;
      const xi = xs - 0.5, yi = ys - 0.5;
      const x = Math.floor(xi), y = Math.floor(yi), dx = xi - x, dy = yi - y;
      const x0 = Math.min(Math.max(x, 0), width - 1), x1 = Math.min(Math.max(x + 1, 0), width - 1);
      const y0 = Math.min(Math.max(y, 0), height - 1);
      const y1 = y + 1 >= 0 && y + 1 < height ? y + 1 : -1;
      const o = (v * size + u) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const top = data[(y0 * width + x0) * 3 + ch] * (1 - dx) + data[(y0 * width + x1) * 3 + ch] * dx;
        const bottom = y1 < 0 ? top : data[(y1 * width + x0) * 3 + ch] * (1 - dx) + data[(y1 * width + x1) * 3 + ch] * dx;
        out[o + ch] = Math.round(top * (1 - dy) + bottom * dy);
      }
    }
  }
  return rgbImage(size, size, out);
}
