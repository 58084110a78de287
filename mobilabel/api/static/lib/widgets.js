// Small pieces several views show: a progress bar, a confidence meter, a cross table, a page error.
// Native <progress> and <meter>: accessible as they are, and sized without inline styles.

import { crossCounts } from "./cross.js";
import { fill, h, setAttr, setText } from "./dom.js";

/** @param {string} name what it measures, for screen readers @returns {HTMLSpanElement} update it with setProgress */
export function progressBar(name) {
  return h("span", { class: "progress" }, h("progress", { "aria-label": name }), h("span", { class: "progress-text" }));
}

/** @param {HTMLElement} bar from progressBar @param {number} done @param {number} total @param {string} [text] */
export function setProgress(bar, done, total, text = `${done} / ${total}`) {
  const meter = /** @type {HTMLProgressElement} */ (bar.querySelector("progress"));
  setAttr(meter, "max", Math.max(total, 1));
  setAttr(meter, "value", Math.min(done, Math.max(total, 1)));
  setText(/** @type {HTMLElement} */ (bar.querySelector(".progress-text")), text);
}

/** A small bar for a share 0..1 whose number is written beside it (so the bar itself is hidden from screen readers). @param {number} share */
export function shareMeter(share) {
  return h("meter", { class: "share", min: 0, max: 1, value: share, "aria-hidden": "true" });
}

/**
 * A cross table of counts, each count a link to its images.
 * @template {string} R
 * @template {string} C
 * @param {Array<Record<R | C, string> & { images: number }>} cells
 * @param {R} rowKey
 * @param {C} colKey
 * @param {(row: string, col: string) => string} link
 * @returns {HTMLElement} the table, in a region that scrolls sideways when it is wider than the screen
 */
export function crossTable(cells, rowKey, colKey, link) {
  const { rows, cols, count } = crossCounts(cells, rowKey, colKey);
  const table = h(
    "table",
    { class: "matrix" },
    h("caption", {}, `rows: ${rowKey}, columns: ${colKey}`),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("td", {}),
        cols.map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    h(
      "tbody",
      {},
      rows.map((r) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, r),
          cols.map((c) => {
            const n = count(r, c);
            return h(
              "td",
              { class: r === c ? "diagonal" : null },
              n ? h("a", { href: link(r, c), "aria-label": `${n}: ${rowKey} ${r}, ${colKey} ${c}` }, n) : "",
            );
          }),
        ),
      ),
    ),
  );
  return h("div", { class: "matrix-wrap", role: "region", tabindex: 0, "aria-label": `${rowKey} against ${colKey}` }, table);
}

/** Show that a view could not be shown, in place of it (not only in the status line). @param {HTMLElement} main @param {string} message */
export function showFailure(main, message) {
  fill(
    main,
    h("h1", {}, "Cannot show this view"),
    h("p", { class: "error", role: "alert" }, message),
    h("p", {}, h("a", { href: "?view=jobs" }, "Back to the jobs")),
  );
}

/**
 * A table cell that names its column: narrow screens stack a table's rows and show the name before
 * each cell (table.stack in style.css).
 * @param {string} label the column's heading
 * @param {string | null} className
 * @param {...import("./dom.js").Child} children
 * @returns {HTMLTableCellElement}
 */
export function cell(label, className, ...children) {
  return h("td", { class: className, "data-label": label }, ...children);
}

/** What to do when the labels are ImageNet's: the first `label` of a new library. @returns {HTMLElement} */
export function imagenetNotice() {
  return h(
    "p",
    { class: "notice", id: "imagenet-notice" },
    h("strong", {}, "These are ImageNet's 1,000 classes, not yours. "),
    "To label in your own classes: in the ",
    h("a", { href: "?view=queue" }, "review queue"),
    ", type each class's name and add it, answer what the queue asks (at least 5 answers per class; ",
    h("kbd", {}, "0"),
    " for none of them, ",
    h("kbd", {}, "?"),
    " when not sure), then train on the answers (",
    h("a", { href: "?view=models" }, "Models"),
    ", Train with no data folder, or ",
    h("code", {}, "mobilabel train"),
    ") and label again.",
  );
}
