// A gallery tile: the thumbnail (or a placeholder saying why there is none), the label (a link to
// the image page), the confidence, the verified label, and a checkbox that selects it.

import { imageFailure } from "../lib/api.js";
import { fill, h, setText } from "../lib/dom.js";
import { percent, thumbnailUrl, viewUrl } from "../lib/format.js";

/** @typedef {import("mobilabel-api").Result} Result */
/** @typedef {Pick<Result, "id" | "content_id" | "status" | "error" | "label">} Pictured what a picture needs of a result */

/** Why a result has no picture to show, before asking for one; null: ask. @param {Pictured} item @param {boolean} imagesOn */
function noPictureReason(item, imagesOn) {
  if (item.status !== "ok") return `failed: ${item.error || "no reason recorded"}`;
  if (!imagesOn) return "images are off (MOBILABEL_ALLOWED_ROOTS)";
  return null;
}

/**
 * The picture of a result, or a placeholder with the reason when there is none or it does not load.
 * @param {Pictured} item
 * @param {number} size thumbnail size
 * @param {boolean} imagesOn whether the server serves images
 * @param {Record<string, string | number | boolean>} [attrs] the img's attributes
 * @param {string} [url] another picture of it than its thumbnail (the original file)
 * @returns {HTMLElement}
 */
export function picture(item, size, imagesOn, attrs = {}, url = thumbnailUrl(item, size)) {
  const reason = noPictureReason(item, imagesOn);
  if (reason) return placeholder(reason);
  const img = h("img", { src: url, alt: item.label ? `predicted ${item.label}` : "", ...attrs });
  img.addEventListener("error", async () => img.replaceWith(placeholder(await imageFailure(url))), { once: true });
  return img;
}

/** @param {string} reason @returns {HTMLElement} */
function placeholder(reason) {
  return h("div", { class: "no-image", role: "img", "aria-label": `no image: ${reason}` }, h("span", {}, "no image: ", reason));
}

/**
 * @param {Result} item
 * @param {boolean} imagesOn
 * @param {(item: Result, range: boolean) => void} select
 * @returns {HTMLElement}
 */
export function tile(item, imagesOn, select) {
  const check = h("input", { type: "checkbox", class: "pick", "aria-label": `select ${item.image_path}` });
  const figure = h(
    "figure",
    { class: "tile", role: "listitem", "data-id": item.id },
    picture(item, 256, imagesOn, { loading: "lazy", width: 160, height: 160 }),
    h(
      "figcaption",
      {},
      check,
      h("a", { href: viewUrl({ view: "image", id: item.id }), class: "label" }, item.label || item.error || ""),
      h("span", { class: "confidence" }, percent(item.confidence)),
      h("span", { class: "mark", title: "verified label" }),
    ),
  );
  figure.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("a")) return;
    if (event.target !== check) event.preventDefault(); // no text selection on shift-click
    select(item, event.shiftKey);
  });
  figure.addEventListener("dblclick", () => {
    location.href = viewUrl({ view: "image", id: item.id });
  });
  return figure;
}

/**
 * Show a tile's selection and verified label.
 * @param {HTMLElement} figure
 * @param {boolean} selected
 * @param {string | undefined} verified
 */
export function paintTile(figure, selected, verified) {
  figure.classList.toggle("selected", selected);
  figure.classList.toggle("verified", verified !== undefined);
  const check = /** @type {HTMLInputElement} */ (figure.querySelector(".pick"));
  check.checked = selected;
  const mark = /** @type {HTMLElement} */ (figure.querySelector(".mark"));
  if (verified === undefined) fill(mark);
  else setText(mark, `✓ ${verified}`);
}
