// The photo the browser test attaches: a blue square on an orange ground, made with the
// e2e suite's PNG maker (no image files in the repository).
import { png } from '../../../e2e/png.mjs';

/** An RGB PNG of `width`×`height`: a blue square on an orange ground. */
export function pngPicture(width = 64, height = 48) {
  return png(width, height, (x, y) => {
    const inside = x > width / 4 && x < (3 * width) / 4 && y > height / 4 && y < (3 * height) / 4;
    return inside ? [29, 78, 216] : [234, 88, 12];
  });
}
