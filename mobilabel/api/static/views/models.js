// The models view: every version (activate one, roll back), two versions compared (each flip opens
// its images), one version against the verified labels (each cell opens its images), the active
// version's calibration (reliability diagram, ECE before and after) with "accept at precision", and training.

import { api } from "../lib/api.js";
import { h, run } from "../lib/dom.js";
import { percent, shortId, viewUrl } from "../lib/format.js";
import { cell, crossTable } from "../lib/widgets.js";
import { acceptPart, calibrationPart } from "./accepting.js";
import { trainingPart } from "./training.js";

/** @typedef {import("mobilabel-api").Version} Version */
/** @typedef {import("mobilabel-api").Comparison} Comparison */
/** @typedef {import("mobilabel-api").Confusion} Confusion */
/** @typedef {import("mobilabel-api").Meta} Meta */

/** @param {HTMLElement} main @param {URLSearchParams} params @param {Meta} meta */
export async function showModels(main, params, meta) {
  const versions = /** @type {Version[]} */ (await api("/api/models"));
  const active = versions.find((v) => v.active);
  const [comparison, confusion, calibration, training] = await Promise.all([
    comparePart(params, versions),
    confusionPart(params, versions),
    calibrationPart(active),
    trainingPart(meta),
  ]);
  main.replaceChildren(
    h("h1", {}, "Models"),
    versionsTable(versions),
    h(
      "button",
      {
        type: "button",
        id: "rollback",
        onclick: () => confirmThen("Roll back to the version active before?", "/api/models/rollback"),
      },
      "Roll back",
    ),
    h("h2", {}, "Compare two versions"),
    ...comparison,
    h("h2", {}, "Confusion against verified labels"),
    ...confusion,
    h("h2", {}, "Calibration and accepting"),
    ...calibration,
    ...acceptPart(active),
    h("h2", {}, "Train"),
    ...training,
  );
}

/** @param {string} question @param {string} path a POST that changes the active version */
function confirmThen(question, path) {
  if (confirm(question)) run(api(path, { method: "POST" }).then(() => location.reload()));
}

/** @param {Version[]} versions */
function versionsTable(versions) {
  const columns = ["version", "arch", "classes", "val accuracy", "created", "active", "report", ""];
  return h(
    "table",
    { class: "versions stack" },
    h("caption", {}, "Model versions"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        columns.map((t) => h("th", { scope: "col" }, t)),
      ),
    ),
    h(
      "tbody",
      {},
      versions.map((v) => {
        const accuracy = typeof v.metrics.val_accuracy === "number" ? v.metrics.val_accuracy : null;
        return h(
          "tr",
          { "data-version": v.id },
          cell(
            "version",
            null,
            h("a", { class: "path", href: viewUrl({ view: "gallery", version: v.id, sort: "confidence" }) }, shortId(v.id)),
          ),
          cell("arch", null, `${v.arch} α${v.alpha}`),
          cell("classes", null, v.classes.length > 12 ? `${v.classes.length} classes` : v.classes.join(", ")),
          cell("val accuracy", null, percent(accuracy)),
          cell("created", null, new Date(v.created_at).toLocaleString()),
          cell("active", null, v.active ? "active" : ""),
          cell(
            "report",
            null,
            v.metrics.epochs
              ? h(
                  "details",
                  {},
                  h("summary", {}, "report"),
                  h("img", {
                    src: `/api/models/${v.id}/report.png`,
                    loading: "lazy",
                    alt: `training report of ${v.id}`,
                    class: "report",
                  }),
                )
              : "",
          ),
          cell(
            "",
            null,
            v.active
              ? ""
              : h(
                  "button",
                  {
                    type: "button",
                    class: "activate",
                    onclick: () =>
                      confirmThen(`Activate version ${shortId(v.id)}?`, `/api/models/${encodeURIComponent(v.id)}/activate`),
                  },
                  "Activate",
                ),
          ),
        );
      }),
    ),
  );
}

/** @param {Version[]} versions @param {string} name @param {string} label @param {string | undefined} chosen */
function versionSelect(versions, name, label, chosen) {
  return h(
    "label",
    {},
    `${label} `,
    h(
      "select",
      { name },
      versions.map((v) => h("option", { value: v.id, selected: v.id === chosen }, `${shortId(v.id)} ${v.source.slice(0, 40)}`)),
    ),
  );
}

/** A form that opens this view with its fields set (the URL keeps the other part's choice). @param {string} id @param {URLSearchParams} params @param {...Node} fields */
function viewForm(id, params, ...fields) {
  const form = h("form", { id, class: "inline" }, ...fields);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    /** @type {Record<string, string | null>} */
    const query = {
      view: "models",
      compare_a: params.get("compare_a"),
      compare_b: params.get("compare_b"),
      confusion: params.get("confusion"),
    };
    for (const [key, value] of new FormData(form)) query[key] = String(value);
    location.search = viewUrl(query);
  });
  return form;
}

/** @param {URLSearchParams} params @param {Version[]} versions @returns {Promise<HTMLElement[]>} */
async function comparePart(params, versions) {
  const a = params.get("compare_a") || versions[1]?.id;
  const b = params.get("compare_b") || versions[0]?.id;
  const form = viewForm(
    "compare-form",
    params,
    versionSelect(versions, "compare_a", "version A", a),
    versionSelect(versions, "compare_b", "against version B", b),
    h("button", { type: "submit" }, "Compare"),
  );
  const shown = h("div", { id: "comparison" });
  if (params.get("compare_a") && params.get("compare_b") && a && b) {
    const result = /** @type {Comparison} */ (await api(`/api/models/compare?${new URLSearchParams({ a, b })}`));
    shown.append(
      h("p", {}, `${result.images} images labelled by both, ${result.changed} changed label`),
      crossTable(result.flips, "label_a", "label_b", (r, c) => viewUrl({ view: "gallery", a, b, label_a: r, label_b: c })),
    );
  }
  return [form, shown];
}

/** @param {URLSearchParams} params @param {Version[]} versions @returns {Promise<HTMLElement[]>} */
async function confusionPart(params, versions) {
  const version = params.get("confusion") || versions.find((v) => v.active)?.id;
  const form = viewForm(
    "confusion-form",
    params,
    versionSelect(versions, "confusion", "version", version),
    h("button", { type: "submit" }, "Against verified labels"),
  );
  const shown = h("div", { id: "confusion" });
  if (params.get("confusion") && version) {
    const result = /** @type {Confusion} */ (await api(`/api/models/${encodeURIComponent(version)}/confusion`));
    shown.append(
      h("p", {}, `${result.correct} of ${result.images} verified images right`),
      result.trained_on
        ? h(
            "div",
            { class: "note", id: "held-out-note" },
            `Held-out answers only. This version was trained on ${result.trained_on} answers: `,
            `${result.out_of_fold ?? 0} of them count here by their out-of-fold label (k-fold: a head on the frozen ImageNet features, fitted without them), the rest not at all.`,
          )
        : "",
      crossTable(result.cells, "verified", "predicted", (r, c) =>
        viewUrl({ view: "gallery", confusion: version, verified: r, predicted: c }),
      ),
    );
  }
  return [form, shown];
}
