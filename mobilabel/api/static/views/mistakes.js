// Likely mistakes: the labels (answers, accepted labels, folder labels) a model trained without them
// disagrees with most, likeliest first (GET /api/review/mistakes, confident learning), each with the
// given label and where it comes from, the model's, and why.
// One key or click per row: use the model's label (a or Enter) or keep the given one (k); either is
// stored as this reviewer's answer (PUT /api/corrections; a keep with the model label it was kept against)
// and focus moves to the next open row.

import { api } from "../lib/api.js";
import { mistakeCommand, nextOpen, sourceText } from "../lib/curation.js";
import { h, run, say, setText } from "../lib/dom.js";
import { viewUrl } from "../lib/format.js";
import { savedReviewer } from "../lib/reviewer.js";
import { askReviewer } from "./queue.js";
import { picture } from "./tiles.js";

/** @typedef {import("mobilabel-api").Mistakes} Mistakes */
/** @typedef {import("mobilabel-api").Mistake} Mistake */
/** @typedef {import("mobilabel-api").Meta} Meta */

const TITLE = "Likely mistakes";
const COUNT = 20; // as `mobilabel review mistakes`'s default

/** @param {HTMLElement} main @param {URLSearchParams} params @param {Meta} meta @returns {Promise<void>} */
export async function showMistakes(main, params, meta) {
  const reviewer = savedReviewer();
  if (!reviewer) return askReviewer(main, () => showMistakes(main, params, meta), TITLE);
  const count = Math.max(1, Number(params.get("count")) || COUNT);
  const found = /** @type {Mistakes} */ (await api(`/api/review/mistakes?count=${count}`));
  /** @type {boolean[]} */
  const answered = found.items.map(() => false);
  const list = h("ol", { class: "mistakes", "aria-label": "likely mistakes, likeliest first" });

  /** @param {number} i @param {string} label */
  async function answer(i, label) {
    const item = found.items[i];
    // Keeping the given label records the model label it was kept against: the list leaves the answer out
    // until the answer or the model's label of it changes.
    const kept = label === item.given_label ? { kept_against: item.model_label } : {};
    await api("/api/corrections", { method: "PUT", json: { result_id: item.result_id, label, reviewer, ...kept } });
    answered[i] = true;
    const row = /** @type {HTMLElement} */ (list.children[i]);
    row.classList.add("answered");
    setText(/** @type {HTMLElement} */ (row.querySelector(".answer-state")), `✓ answered ${label}`);
    say(`${item.image_path}: answered ${label}`);
    const next = nextOpen(answered, i);
    if (next >= 0) /** @type {HTMLElement} */ (list.children[next]).focus();
  }

  list.append(...found.items.map((item, i) => mistakeRow(item, meta.allowed_roots_set, (label) => run(answer(i, label)))));
  list.addEventListener("keydown", (event) => {
    const row = event.target instanceof Element ? event.target.closest("li.mistake") : null;
    // Enter and Space on a button or link are theirs; keys typed into a field are the field's.
    if (!row || (event.target !== row && (event.key === "Enter" || event.key === " "))) return;
    const command = mistakeCommand(event);
    if (!command) return;
    event.preventDefault();
    const i = [...list.children].indexOf(row);
    const item = found.items[i];
    if (command === "use") run(answer(i, item.model_label));
    else if (command === "keep") run(answer(i, item.given_label));
    else {
      const to = command === "next" ? i + 1 : i - 1;
      /** @type {HTMLElement | undefined} */ (list.children[to])?.focus();
    }
  });

  main.replaceChildren(
    h("h1", {}, TITLE),
    h(
      "p",
      {},
      `${found.checked} labels checked (answers, accepted labels, folder names that are classes), each by a model trained without it; the ${found.items.length} it believes least first. Answering as ${reviewer}. `,
      h(
        "button",
        { type: "button", id: "forget-reviewer", onclick: () => askReviewer(main, () => location.reload(), TITLE) },
        "Not you?",
      ),
    ),
    h(
      "p",
      { class: "hint", id: "mistake-keys" },
      "On a row: a or Enter uses the model's label, k keeps the given one, ↑ and ↓ move.",
    ),
    found.items.length ? list : h("p", {}, "No answer to check yet."),
  );
  /** @type {HTMLElement | undefined} */ (list.children[0])?.focus();
}

/**
 * One likely mistake: its picture, the given label and the model's with their probabilities, why, and
 * the two answers.
 * @param {Mistake} item
 * @param {boolean} imagesOn
 * @param {(label: string) => void} choose
 * @returns {HTMLElement}
 */
function mistakeRow(item, imagesOn, choose) {
  const id = `mistake-${item.result_id}`;
  const shown = { id: item.result_id, content_id: null, status: "ok", error: null, label: item.given_label };
  const differs = item.model_label !== item.given_label;
  return h(
    "li",
    {
      class: "mistake",
      tabindex: 0,
      id,
      "data-id": item.result_id,
      "aria-labelledby": `${id}-labels`,
      "aria-describedby": "mistake-keys",
    },
    h(
      "a",
      {
        href: viewUrl({ view: "image", id: item.result_id }),
        class: "mistake-photo",
        tabindex: -1,
        "aria-label": `image ${item.image_path}`,
      },
      picture(shown, 256, imagesOn, { loading: "lazy", width: 128, height: 128 }),
    ),
    h(
      "div",
      { class: "mistake-facts" },
      h(
        "p",
        { id: `${id}-labels`, class: "labels" },
        "given ",
        h("strong", { class: "given" }, item.given_label),
        ` (${item.given_probability.toFixed(2)}; ${sourceText(item.source)}) · model `,
        h("strong", { class: "suggested" }, item.model_label),
        ` (${item.model_probability.toFixed(2)})`,
        item.flagged ? h("span", { class: "flag" }, " flagged") : "",
      ),
      h("p", { class: "why" }, item.why),
      h("p", { class: "path" }, item.image_path),
      h("p", { class: "answer-state mark", "aria-live": "polite" }),
    ),
    h(
      "div",
      { class: "mistake-actions" },
      differs
        ? h("button", { type: "button", class: "use", onclick: () => choose(item.model_label) }, `Use ${item.model_label} (a)`)
        : "",
      h("button", { type: "button", class: "keep", onclick: () => choose(item.given_label) }, `Keep ${item.given_label} (k)`),
      h("a", { href: viewUrl({ view: "similar", id: item.result_id }) }, "More like this"),
    ),
  );
}
