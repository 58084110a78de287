// Parts the duplicates and "more like this" views share: a member's tile (picture, label, answered mark,
// similarity, an optional checkbox), the one-answer-for-many form, and the answer itself
// (POST /api/review/group: one answer row per member, the group noted on each).

import { api } from "../lib/api.js";
import { ownClasses } from "../lib/classes.js";
import { similarityText } from "../lib/curation.js";
import { fill, h, run, setText } from "../lib/dom.js";
import { viewUrl } from "../lib/format.js";
import { picture } from "./tiles.js";

/** @typedef {import("mobilabel-api").Member} Member */
/** @typedef {import("mobilabel-api").GroupAnswer} GroupAnswer */
/** @typedef {import("mobilabel-api").Version} Version */
/** @typedef {import("mobilabel-api").Class} Class */

export const CLASS_LIST = "curation-classes"; // the id of the page's one <datalist> of classes

/** The classes an answer may name, as a <datalist> the label inputs share. @returns {Promise<HTMLDataListElement>} */
export async function classList() {
  const [versions, classes] = /** @type {[Version[], Class[]]} */ (await Promise.all([api("/api/models"), api("/api/classes")]));
  return h(
    "datalist",
    { id: CLASS_LIST },
    ownClasses(versions, classes).map((c) => h("option", { value: c })),
  );
}

/**
 * A member's picture (linked to its image page), label, answered mark and similarity; with ``select``,
 * a checkbox that calls it.
 * @param {Member} member
 * @param {boolean} imagesOn whether the server serves images
 * @param {(id: number, on: boolean) => void} [select]
 * @returns {HTMLElement}
 */
export function memberTile(member, imagesOn, select) {
  const shown = { id: member.result_id, content_id: null, status: "ok", error: null, label: member.label };
  const check = select
    ? h("input", {
        type: "checkbox",
        class: "pick",
        "aria-label": `select ${member.image_path}`,
        onchange: (/** @type {Event} */ event) =>
          select(member.result_id, /** @type {HTMLInputElement} */ (event.target).checked),
      })
    : null;
  const figure = h(
    "figure",
    { class: "tile member", role: "listitem", "data-id": member.result_id, title: member.image_path },
    h(
      "a",
      { href: viewUrl({ view: "image", id: member.result_id }), "aria-label": `image ${member.image_path}` },
      picture(shown, 256, imagesOn, { loading: "lazy", width: 160, height: 160 }),
    ),
    h(
      "figcaption",
      {},
      check,
      h("span", { class: "label" }),
      h("span", { class: "mark" }),
      h("span", { class: "confidence" }, similarityText(member.similarity)),
    ),
  );
  paintMember(figure, member, false);
  return figure;
}

/** Show a member's label, whether it is answered, and whether it is selected. @param {HTMLElement} figure @param {Member} member @param {boolean} selected */
export function paintMember(figure, member, selected) {
  setText(/** @type {HTMLElement} */ (figure.querySelector(".label")), member.label || "no label");
  const mark = /** @type {HTMLElement} */ (figure.querySelector(".mark"));
  if (member.answered) setText(mark, "✓ answered");
  else fill(mark);
  figure.classList.toggle("verified", member.answered);
  figure.classList.toggle("selected", selected);
  const check = /** @type {HTMLInputElement | null} */ (figure.querySelector(".pick"));
  if (check) check.checked = selected;
}

/**
 * The form that answers many images at once: a label (the page's classes offered), "a new class", and
 * a submit button whose text ``setButton`` changes.
 * @param {string} id a prefix for its elements' ids, unique on the page
 * @param {string} initial the label offered first
 * @param {(label: string, newClass: boolean) => Promise<void>} submit
 * @returns {{ form: HTMLFormElement, setButton: (text: string, enabled: boolean) => void }}
 */
export function groupForm(id, initial, submit) {
  const input = h("input", {
    id: `${id}-label`,
    name: "label",
    list: CLASS_LIST,
    value: initial,
    required: true,
    autocomplete: "off",
  });
  const fresh = h("input", { type: "checkbox", id: `${id}-new`, name: "new_class" });
  const button = h("button", { type: "submit", id: `${id}-answer` });
  let enabled = true;
  const form = h(
    "form",
    { class: "inline group-form" },
    h("label", { for: `${id}-label` }, "Label"),
    input,
    h("label", { for: `${id}-new` }, fresh, " a new class"),
    button,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const label = input.value.trim();
    if (!label || button.disabled) return;
    button.disabled = true; // one answer per press, however impatient
    run(submit(label, fresh.checked).finally(() => (button.disabled = !enabled)));
  });
  return {
    form,
    setButton: (text, on) => {
      setText(button, text);
      enabled = on;
      button.disabled = !on;
    },
  };
}

/**
 * One answer for these images: an answer row per image, all noting one new group id.
 * @param {number[]} ids
 * @param {string} label
 * @param {boolean} newClass create the label as a class if it is none yet
 * @param {string} reviewer
 * @returns {Promise<GroupAnswer>}
 */
export async function answerGroup(ids, label, newClass, reviewer) {
  return api("/api/review/group", { json: { result_ids: ids, label, new_class: newClass, reviewer } });
}
