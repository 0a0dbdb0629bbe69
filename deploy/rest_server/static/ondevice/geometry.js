// A rotated square of an image and the one function that cuts it out (glasses_core/geometry.py).
import { affine, reduce, resize } from "./image.js";

// {centre: [x, y], side, angle}: centre and side in pixels, angle in radians.
export function reduced(g, reduction) {
  return { centre: [g.centre[0] / reduction, g.centre[1] / reduction], side: g.side / reduction, angle: g.angle };
}

// Points given as fractions of the square (0..1, x right, y down) -> image pixels.
export function toImage(g, points) {
  const cos = Math.cos(g.angle), sin = Math.sin(g.angle);
  return points.map(([u, v]) => {
    const ox = (u - 0.5) * g.side, oy = (v - 0.5) * g.side;
    return [g.centre[0] + cos * ox - sin * oy, g.centre[1] + sin * ox + cos * oy];
  });
}

// The square cut out of an RGB image and resized to size x size: a face larger than 4 x size
// is first shrunk by a whole factor with a box filter, the square is sampled bilinearly on a
// grid of at least one point per pixel, then shrunk to size with the triangle filter. Where it
// leaves the image it is black, or with ``outside`` "edge" the image's edge pixels carried on.
export function cut(image, g, size, outside = "black") {
  const factor = Math.max(1, Math.floor(g.side / (4 * size)));
  const source = factor > 1 ? reduce(image, factor) : image;
  const side = g.side / factor;
  const native = Math.max(size, Math.ceil(side));
  const step = side / native;
  const cos = Math.cos(g.angle), sin = Math.sin(g.angle);
  const cx = g.centre[0] / factor, cy = g.centre[1] / factor;
  const a = cos * step, b = -sin * step, d = sin * step, e = cos * step;
  const c = cx - (a + b) * native / 2, f = cy - (d + e) * native / 2;
  const patch = affine(source, native, [a, b, c, d, e, f], outside);
  return native === size ? patch : resize(patch, size, size);
}
