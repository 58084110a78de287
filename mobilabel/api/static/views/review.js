// Review mode: one image at a time in a modal dialog (focus stays inside, Esc closes), keyboard
// first and every key also a button for touch. One key per image (lib/keys.js); the next two
// photos are fetched ahead so the next one shows at once. Besides a class, an image may be answered
// "other" (none of my classes) or "skip" (not sure); a name typed that is no class yet can be added
// as one on the spot (POST /api/classes); + or a click on the photo shows it at full resolution.

import { fill, h, say, setText } from "../lib/dom.js";
import { imageUrl, percent, thumbnailUrl } from "../lib/format.js";
import { matchClasses, newClassName, reviewCommand } from "../lib/keys.js";
import { shareMeter } from "../lib/widgets.js";
import { picture } from "./tiles.js";

/** @typedef {import("mobilabel-api").Result} Result */

/**
 * @typedef {object} ReviewOptions
 * @property {Result[]} items the gallery's images (grows as it loads more)
 * @property {number} start index of the first one to show
 * @property {() => boolean} hasMore whether the gallery has more to load
 * @property {() => Promise<void>} loadMore
 * @property {(item: Result) => string | undefined} verdictOf its verified label
 * @property {(item: Result) => string[]} classesFor the classes it may be given
 * @property {{ other: string, skip: string }} answers the reserved answers' names (/api/meta)
 * @property {(name: string) => Promise<void>} addClass create a class (it is then among classesFor's)
 * @property {HTMLElement} [status] shown under the title (the queue's size and the accuracy estimate)
 * @property {boolean} imagesOn whether the server serves images
 * @property {(item: Result, label: string) => Promise<void>} decide store a verified label
 * @property {() => Promise<Result | undefined>} undo reverse the last decision; the image it touched
 * @property {(item: Result) => void} shown the gallery keeps the shown image in view behind
 * @property {() => void} closed
 */

const PREFETCH = 2;
const TOP_K = 9;
const LISTED_CLASSES = 12;

/** @param {ReviewOptions} options @returns {{ close: () => void }} */
export function openReview(options) {
  const { items } = options;
  let index = options.start;
  /** @type {string[]} */
  let matches = [];
  /** @type {Promise<unknown>} */
  let queue = Promise.resolve(); // keys act in order, each on the image shown when its turn comes
  const act = (/** @type {() => unknown} */ action) => {
    queue = queue.then(action).catch((/** @type {Error} */ error) => say(error.message, true));
  };
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;

  const photo = h("div", { class: "review-photo" });
  const title = h("h2", { id: "review-title" });
  const path = h("p", { class: "path" });
  const predicted = h("p", { class: "predicted" });
  const topK = h("ol", { class: "topk", "aria-label": "best labels" });
  const filter = h("input", {
    id: "class-filter",
    placeholder: "type to filter or add; Enter picks the first",
    autocomplete: "off",
  });
  const classList = h("ul", { class: "class-list", "aria-label": "matching classes" });
  const addition = h("p", { class: "add-class" });
  /** @type {string | null} */
  let newName = null;
  const { other, skip } = options.answers;
  const button = (/** @type {string} */ id, /** @type {string} */ text, /** @type {() => unknown} */ action) =>
    h("button", { type: "button", id, onclick: () => act(action) }, text);
  const dialog = h(
    "dialog",
    { id: "review", class: "review", "aria-labelledby": "review-title", tabindex: -1 },
    photo,
    h(
      "div",
      { class: "review-side" },
      title,
      options.status || "",
      path,
      predicted,
      topK,
      h("label", { for: "class-filter" }, "Another class"),
      filter,
      classList,
      addition,
      h(
        "div",
        { class: "review-actions", role: "group", "aria-label": "review" },
        button("review-accept", "Accept (Enter)", () => decide(current().label)),
        button("review-other", "Other (0)", () => decide(other)),
        button("review-skip", "Not sure (?)", () => decide(skip)),
        button("review-zoom", "Zoom (+)", zoom),
        button("review-back", "Back (←)", () => show(index - 1)),
        button("review-next", "Next (Space)", () => show(index + 1)),
        button("review-undo", "Undo (u)", undo),
        h("button", { type: "button", id: "review-close", onclick: () => dialog.close() }, "Close (Esc)"),
      ),
      h(
        "p",
        { class: "keys" },
        "Enter/a accept · 1-9 pick · letters or / filter or add a class · 0 other (none of these) · ? skip (not sure) · + zoom · Space/→ next · ← back · u undo · Esc close",
      ),
    ),
  );

  const current = () => items[index];

  /** @param {number} at */
  function show(at) {
    index = Math.max(0, Math.min(at, items.length - 1));
    const item = current();
    photo.classList.remove("zoomed");
    fill(photo, picture(item, 512, options.imagesOn, { id: "review-image" }));
    setText(title, `${index + 1} / ${items.length}${options.hasMore() ? "+" : ""}`);
    setText(path, item.image_path);
    const mark = options.verdictOf(item);
    fill(
      predicted,
      "predicted ",
      h("strong", { id: "predicted" }, item.label || "—"),
      ` ${percent(item.confidence)}`,
      mark === undefined ? "" : h("span", { class: "mark" }, ` ✓ ${mark}`),
    );
    fill(
      topK,
      (item.top_k || [])
        .slice(0, TOP_K)
        .map((k, n) =>
          h(
            "li",
            {},
            h(
              "button",
              { type: "button", onclick: () => act(() => decide(k.label)) },
              h("kbd", {}, n + 1),
              ` ${k.label} `,
              shareMeter(k.confidence),
              ` ${percent(k.confidence)}`,
            ),
          ),
        ),
    );
    filter.value = "";
    listClasses();
    dialog.scrollTo({ top: 0 }); // on a phone the photo is above the controls: each image starts with it in view
    if (document.activeElement === filter || !dialog.contains(document.activeElement)) dialog.focus(); // the next key is a command again
    if (options.imagesOn)
      for (const next of items.slice(index + 1, index + 1 + PREFETCH)) new Image().src = thumbnailUrl(next, 512);
    options.shown(item);
    if (index >= items.length - 5 && options.hasMore())
      options.loadMore().then(() => setText(title, `${index + 1} / ${items.length}${options.hasMore() ? "+" : ""}`));
  }

  function listClasses() {
    const classes = options.classesFor(current());
    matches = matchClasses(classes, filter.value);
    fill(
      classList,
      matches
        .slice(0, LISTED_CLASSES)
        .map((name) => h("li", {}, h("button", { type: "button", onclick: () => act(() => decide(name)) }, name))),
    );
    newName = newClassName([...classes, other, skip], filter.value);
    const name = newName;
    fill(
      addition,
      name === null
        ? ""
        : h("button", { type: "button", id: "add-class", onclick: () => act(() => addAndDecide(name)) }, `+ add class “${name}”`),
    );
  }

  /** @param {string} name a name that is no class yet */
  async function addAndDecide(name) {
    await options.addClass(name);
    await decide(name);
  }

  /** The photo at full resolution (the original file), scrolled inside its frame, or back to fitting it. */
  function zoom() {
    const item = current();
    if (!options.imagesOn || item.status !== "ok") return;
    const zoomed = photo.classList.toggle("zoomed");
    const attrs = { id: "review-image", class: zoomed ? "full" : "" };
    fill(photo, picture(item, 512, true, attrs, zoomed ? imageUrl(item) : undefined));
  }

  /** @param {string | null | undefined} label */
  async function decide(label) {
    if (!label) return say("no label to accept here", true);
    await options.decide(current(), label);
    if (index + 1 < items.length) show(index + 1);
    else say("end of this view");
  }

  async function undo() {
    const item = await options.undo();
    if (item) show(items.indexOf(item));
  }

  filter.addEventListener("input", listClasses);
  filter.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      const [label, name] = [matches[0], newName];
      if (label) act(() => decide(label));
      else if (name) act(() => addAndDecide(name));
    } else if (event.key === "Escape") {
      event.preventDefault(); // clears the filter; the next Esc closes
      filter.value = "";
      listClasses();
      dialog.focus();
    }
  });
  dialog.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.key === "Tab") return keepFocusInside(event);
    if (target === filter) return;
    if (target instanceof HTMLButtonElement && (event.key === "Enter" || event.key === " ")) return; // the button's own
    const command = reviewCommand(event);
    if (!command) return;
    if (command.kind !== "type") event.preventDefault();
    if (command.kind === "accept") act(() => decide(current().label));
    else if (command.kind === "pick") act(() => decide((current().top_k || [])[command.rank]?.label));
    else if (command.kind === "next") act(() => show(index + 1));
    else if (command.kind === "back") act(() => show(index - 1));
    else if (command.kind === "undo") act(undo);
    else if (command.kind === "other") act(() => decide(other));
    else if (command.kind === "skip") act(() => decide(skip));
    else if (command.kind === "zoom") act(zoom);
    else filter.focus(); // "filter", or "type": the letter then lands in the filter
  });
  /** The modal dialog makes the page behind inert; Tab past either end wraps round instead of leaving for the browser. @param {KeyboardEvent} event */
  function keepFocusInside(event) {
    const focusable = /** @type {HTMLElement[]} */ ([...dialog.querySelectorAll("button, input")]).filter(
      (el) => el.getClientRects().length > 0, // shown
    );
    const [first, last] = [focusable[0], focusable.at(-1)];
    const at = document.activeElement;
    if (!event.shiftKey && at === last) first?.focus();
    else if (event.shiftKey && (at === first || at === dialog)) last?.focus();
    else return;
    event.preventDefault();
  }

  photo.addEventListener("click", () => act(zoom));
  dialog.addEventListener("close", () => {
    dialog.remove();
    options.closed();
    opener?.focus();
  });

  document.body.append(dialog);
  dialog.showModal();
  show(index);
  dialog.focus();
  return { close: () => dialog.close() };
}
