// The models view's training part: start a run (defaults from the server) and follow every run's
// progress (epoch, phase, accuracy) live; rows are kept by run id and only changed cells written.

import { api } from "../lib/api.js";
import { h, run, say, setText, syncKeyed } from "../lib/dom.js";
import { runProgressText, runShare, shortId, viewUrl } from "../lib/format.js";
import { poll } from "../lib/poll.js";
import { cell, progressBar, setProgress } from "../lib/widgets.js";

/** @typedef {import("mobilabel-api").Run} Run */
/** @typedef {import("mobilabel-api").RunRequest} RunRequest */
/** @typedef {import("mobilabel-api").Meta} Meta */

const COLUMNS = ["Run", "Status", "Progress", "Version", "Promoted", "Error"];

/** @param {Meta} meta @returns {Promise<HTMLElement[]>} the form and the runs table, followed while a run is active */
export async function trainingPart(meta) {
  const active = new Set(meta.run_states.active);
  const rows = h("tbody", {});
  const table = h(
    "table",
    { id: "runs", class: "stack" },
    h("caption", {}, "Training runs"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        COLUMNS.map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    rows,
  );
  const paint = (/** @type {Run[]} */ runs) => syncKeyed(rows, runs, (r) => r.id, runRow, paintRun);
  const follow = poll(
    () => /** @type {Promise<Run[]>} */ (api("/api/training-runs")),
    paint,
    (runs) => runs.some((r) => active.has(r.status)),
  );
  const runs = /** @type {Run[]} */ (await api("/api/training-runs"));
  paint(runs);
  if (runs.some((r) => active.has(r.status))) follow.now();
  return [trainForm(meta, () => follow.now()), table];
}

/** @param {Meta} meta @param {() => void} started */
function trainForm(meta, started) {
  const defaults = meta.training_defaults;
  const field = (
    /** @type {string} */ name,
    /** @type {string} */ text,
    /** @type {Record<string, string | number | boolean>} */ attrs,
  ) => h("label", {}, `${text} `, h("input", { name, ...attrs }));
  const form = h(
    "form",
    { id: "train-form", class: "inline" },
    field("data_dir", "data folder", {
      size: 40,
      placeholder: "empty: the answers alone, or /absolute/data/dir",
      autocomplete: "off",
    }),
    field("epochs", "epochs", { type: "number", min: 1, value: defaults.epochs, size: 3 }),
    field("val_fraction", "validation share", {
      type: "number",
      min: 0.01,
      max: 0.99,
      step: 0.01,
      placeholder: defaults.val_fraction,
      size: 4,
    }),
    h(
      "label",
      {},
      h("input", { name: "include_corrections", type: "checkbox", checked: defaults.include_corrections }),
      " with verified labels",
    ),
    h("label", {}, h("input", { name: "force", type: "checkbox" }), " promote even if not better"),
    h("button", { type: "submit", disabled: !meta.allowed_roots_set }, "Train"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = (/** @type {string} */ name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
    /** @type {RunRequest} */
    const body = {
      data_dir: value("data_dir").value.trim() || null, // none: train on the answers alone
      epochs: Number(value("epochs").value),
      val_fraction: value("val_fraction").value ? Number(value("val_fraction").value) : null,
      include_corrections: value("include_corrections").checked,
      force: value("force").checked,
    };
    run(
      api("/api/training-runs", { json: body }).then((/** @type {Run} */ startedRun) => {
        say(`training run ${startedRun.id} started`);
        started();
      }),
    );
  });
  return form;
}

/** @param {Run} r @returns {HTMLTableRowElement} */
function runRow(r) {
  return h(
    "tr",
    { "data-run": r.id },
    cell("Run", "run-id", String(r.id)),
    cell("Status", "run-status"),
    cell("Progress", "run-progress", progressBar(`progress of training run ${r.id}`)),
    cell("Version", "run-version"),
    cell("Promoted", "run-promoted"),
    cell("Error", "run-error error"),
  );
}

/** @param {HTMLTableRowElement} row @param {Run} r */
function paintRun(row, r) {
  const at = (/** @type {string} */ name) => /** @type {HTMLElement} */ (row.querySelector(`.${name}`));
  row.dataset.status = r.status;
  setText(at("run-status"), r.status);
  const bar = /** @type {HTMLElement} */ (at("run-progress").firstElementChild);
  bar.hidden = !r.progress;
  if (r.progress) setProgress(bar, Math.round(1000 * runShare(r.progress)), 1000, runProgressText(r.progress));
  const version = at("run-version");
  if (r.version_id && !version.firstChild)
    version.append(h("a", { href: viewUrl({ view: "gallery", version: r.version_id }) }, shortId(r.version_id)));
  setText(at("run-promoted"), r.promoted === null ? "" : r.promoted ? "yes" : "no");
  setText(at("run-error"), r.error || "");
}
