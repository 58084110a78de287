// More like this: the photos most like one image (GET /api/results/{id}/similar), most similar first,
// each with its label and similarity; select some (and the image itself) and answer them at once
// (POST /api/review/group: one answer row per photo, the group noted on each).

import { api } from "../lib/api.js";
import { h, say } from "../lib/dom.js";
import { viewUrl } from "../lib/format.js";
import { savedReviewer } from "../lib/reviewer.js";
import { answerGroup, classList, groupForm, memberTile, paintMember } from "./members.js";
import { askReviewer } from "./queue.js";
import { picture } from "./tiles.js";

/** @typedef {import("mobilabel-api").Neighbours} Neighbours */
/** @typedef {import("mobilabel-api").Result} Result */
/** @typedef {import("mobilabel-api").Meta} Meta */

const TITLE = "More like this";
const COUNT = 20; // as `mobilabel review similar`'s default

/** @param {HTMLElement} main @param {URLSearchParams} params @param {Meta} meta @returns {Promise<void>} */
export async function showSimilar(main, params, meta) {
  const reviewer = savedReviewer();
  if (!reviewer) return askReviewer(main, () => showSimilar(main, params, meta), TITLE);
  const id = encodeURIComponent(params.get("id") || "");
  const count = Math.max(1, Number(params.get("count")) || COUNT);
  const [query, found, classes] = /** @type {[Result, Neighbours, HTMLDataListElement]} */ (
    await Promise.all([api(`/api/results/${id}`), api(`/api/results/${id}/similar?count=${count}`), classList()])
  );
  const members = found.items;
  /** @type {Set<number>} */
  const selected = new Set();
  const withQuery = h("input", { type: "checkbox", id: "similar-self", checked: true });
  const grid = h("div", { class: "grid", role: "list", "aria-label": "similar photos, most similar first" });
  const { form, setButton } = groupForm("similar", query.verified_label || query.label || "", async (label, newClass) => {
    const ids = [...(withQuery.checked ? [query.id] : []), ...selected];
    const done = await answerGroup(ids, label, newClass, reviewer);
    for (const m of members) if (selected.has(m.result_id)) Object.assign(m, { label, answered: true });
    selected.clear();
    paint();
    say(`${done.answers} photos answered ${label}`);
  });
  const tiles = members.map((m) =>
    memberTile(m, meta.allowed_roots_set, (resultId, on) => {
      if (on) selected.add(resultId);
      else selected.delete(resultId);
      paint();
    }),
  );
  grid.append(...tiles);
  function paint() {
    members.forEach((m, i) => {
      paintMember(tiles[i], m, selected.has(m.result_id));
    });
    const n = selected.size + (withQuery.checked ? 1 : 0);
    setButton(`Answer ${n} selected`, n > 0);
  }
  withQuery.addEventListener("change", paint);
  const selectAll = () => {
    const all = selected.size < members.length;
    for (const m of members) {
      if (all) selected.add(m.result_id);
      else selected.delete(m.result_id);
    }
    paint();
  };
  paint();
  main.replaceChildren(
    h("h1", {}, TITLE),
    h(
      "div",
      { class: "similar-query" },
      h(
        "a",
        { href: viewUrl({ view: "image", id: query.id }), "aria-label": `image ${query.image_path}` },
        picture(query, 256, meta.allowed_roots_set, { width: 128, height: 128 }),
      ),
      h(
        "div",
        {},
        h(
          "p",
          {},
          "Like ",
          h("strong", {}, query.verified_label || query.label || "this image"),
          query.verified_label ? " (answered)" : "",
        ),
        h("p", { class: "path" }, query.image_path),
        h("label", { for: "similar-self" }, withQuery, " answer this image too"),
      ),
    ),
    classes,
    h(
      "div",
      { class: "toolbar" },
      h("button", { type: "button", id: "similar-select-all", onclick: selectAll }, "Select all"),
      form,
    ),
    members.length ? grid : h("p", {}, "No other photo in the library."),
  );
}
