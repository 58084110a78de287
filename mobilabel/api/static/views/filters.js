// The gallery's filter form: the filters of `mobilabel results`, sent as a new URL (so every
// filtered view can be shared). Sorts and statuses are the server's (/api/meta).

import { h } from "../lib/dom.js";
import { shortId, viewUrl } from "../lib/format.js";

/** @typedef {import("mobilabel-api").Meta} Meta */
/** @typedef {import("mobilabel-api").Version} Version */

export const FILTERS = ["job", "label", "min_confidence", "max_confidence", "status", "version", "path", "sort", "unreviewed"];

/** What each sort means to a reviewer; a sort the server adds later shows its own name. */
const SORT_NAMES = /** @type {Record<string, string>} */ ({
  path: "path",
  confidence: "confidence ↑ (review queue)",
  "-confidence": "confidence ↓",
  label: "label",
  "-time": "newest",
  time: "oldest",
});

/**
 * @param {URLSearchParams} params
 * @param {Meta} meta
 * @param {Version[]} versions
 * @returns {HTMLFormElement}
 */
export function filterForm(params, meta, versions) {
  /** @param {string} name @param {string} text @param {Record<string, string | number>} attrs */
  const field = (name, text, attrs = {}) =>
    h("label", {}, text, h("input", { name, value: params.get(name) || "", autocomplete: "off", ...attrs }));
  /** @param {string} name @param {string} text @param {Array<[string, string]>} choices @param {string} chosen */
  const choice = (name, text, choices, chosen) =>
    h(
      "label",
      {},
      text,
      h(
        "select",
        { name },
        choices.map(([value, shown]) => h("option", { value, selected: chosen === value }, shown)),
      ),
    );
  const form = h(
    "form",
    { id: "filters", class: "filters", "aria-label": "filters" },
    field("job", "job", { size: 4, inputmode: "numeric" }),
    field("label", "label", { list: "all-classes", size: 12 }),
    field("min_confidence", "min confidence", { size: 4, type: "number", step: "0.01", min: 0, max: 1 }),
    field("max_confidence", "max confidence", { size: 4, type: "number", step: "0.01", min: 0, max: 1 }),
    choice(
      "status",
      "status",
      [["", "any"], ...meta.result_states.map((s) => /** @type {[string, string]} */ ([s, s]))],
      params.get("status") || "",
    ),
    choice(
      "version",
      "version",
      [
        ["", "any"],
        ...versions.map((v) => /** @type {[string, string]} */ ([v.id, `${shortId(v.id)}${v.active ? " (active)" : ""}`])),
      ],
      params.get("version") || "",
    ),
    field("path", "path", { size: 14, placeholder: "*/2024/*" }),
    choice(
      "sort",
      "sort",
      meta.result_sorts.map((s) => /** @type {[string, string]} */ ([s, SORT_NAMES[s] || s])),
      params.get("sort") || "path",
    ),
    h(
      "label",
      {},
      h("input", { type: "checkbox", name: "unreviewed", value: "true", checked: params.get("unreviewed") === "true" }),
      " unreviewed only",
    ),
    h("button", { type: "submit" }, "Apply"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    /** @type {Record<string, string>} */
    const query = { view: "gallery" };
    for (const [key, value] of new FormData(form)) query[key] = String(value);
    location.search = viewUrl(query);
  });
  return form;
}
