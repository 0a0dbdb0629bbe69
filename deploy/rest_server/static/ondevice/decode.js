// Open a photo as the core does (glasses_core/image_io.py): upright by its EXIF orientation, RGB,
// transparency seen on white, refused over 40 megapixels; then views shrunk by 1, 2, 4 or 8, each
// made once. The core decodes a JPEG at those scales from its DCT coefficients; here a shrunk view
// is drawn by the browser's own smooth scaler straight from the decoded bitmap (so a 12 MP photo
// whose faces are large never comes into JavaScript at full size), or box-filtered from the full
// view once that exists. The conformance suite's tolerances allow either.
// No DOM: createImageBitmap and OffscreenCanvas work in a page and in a worker alike.
import { reduce, rgbImage } from "./image.js";

export const MAX_PIXELS = 40_000_000;
export const SCALES = [8, 4, 2, 1];

export class PhotoError extends Error {}

export class Photo {
  // ``source``: an RGB image ({width, height, data}) or anything drawImage takes (an ImageBitmap).
  constructor(source, name = "photo") {
    this.name = name;
    this.size = [source.width, source.height];
    this._source = source.data ? null : source;
    this._views = new Map(source.data ? [[1, source]] : []);
    this._kept = new Map();  // images made from the views that several looks read (kept)
  }

  // [image, reduction]: the coarsest view that keeps at least ``scale`` of the pixels.
  view(scale = 1) {
    const reduction = SCALES.find((r) => 1 / r >= Math.min(scale, 1) - 1e-9);
    if (!this._views.has(reduction)) {
      const [width, height] = this.size.map((side) => Math.ceil(side / reduction));
      this._views.set(reduction, this._views.has(1) || !this._source ? reduce(this.view(1)[0], reduction)
        : pixelsOf(this._source, width, height));
    }
    return [this._views.get(reduction), reduction];
  }

  // ``make()``, made once for this photo per ``key`` and kept: an image made from a view that several
  // looks read (locate.js: the detector's copy of the first look's view).
  kept(key, make) {
    if (!this._kept.has(key)) this._kept.set(key, make());
    return this._kept.get(key);
  }
}

// A Photo from a Blob or File (any format the browser decodes), or an ImageBitmap/ImageData.
export async function openPhoto(source, name = source?.name || "photo") {
  let bitmap;
  try {
    bitmap = source instanceof ImageBitmap ? source : await createImageBitmap(source, {
      imageOrientation: "from-image", premultiplyAlpha: "none", colorSpaceConversion: "none",
    });
  } catch (err) {
    throw new PhotoError(`${name}: not an image this browser can decode (${err.message})`);
  }
  if (bitmap.width * bitmap.height > MAX_PIXELS) {
    throw new PhotoError(`${name}: ${bitmap.width}x${bitmap.height} is over the 40 megapixel limit`);
  }
  return new Photo(bitmap, name);
}

// RGB pixels of anything drawImage takes (an ImageBitmap, a video frame), drawn over white.
export function pixelsOf(drawable, width = drawable.width, height = drawable.height) {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.fillStyle = "#fff";
  context.fillRect(0, 0, width, height);
  context.imageSmoothingQuality = "high";  // when it shrinks: mipmaps, not a few samples
  context.drawImage(drawable, 0, 0, width, height);
  const rgba = context.getImageData(0, 0, width, height).data;
  const rgb = new Uint8ClampedArray(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2];
  }
  return rgbImage(width, height, rgb);
}
