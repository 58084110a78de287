// One image: its photo, path, top-k, its verified label (set or remove it), and what every model
// version said about it.

import { api } from "../lib/api.js";
import { h, run } from "../lib/dom.js";
import { percent, shortId, viewUrl } from "../lib/format.js";
import { shareMeter } from "../lib/widgets.js";
import { picture } from "./tiles.js";

/** @typedef {import("mobilabel-api").Result} Result */
/** @typedef {import("mobilabel-api").Version} Version */
/** @typedef {import("mobilabel-api").Meta} Meta */

/** @param {HTMLElement} main @param {URLSearchParams} params @param {Meta} meta */
export async function showImage(main, params, meta) {
  const id = params.get("id") || "";
  const [result, byVersion, versions] = /** @type {[Result, Result[], Version[]]} */ (
    await Promise.all([
      api(`/api/results/${encodeURIComponent(id)}`),
      api(`/api/results/${encodeURIComponent(id)}/versions`),
      api("/api/models"),
    ])
  );
  const verified = result.verified_label ?? null;
  const classes = versions.find((v) => v.id === result.model_version_id)?.classes || [];
  const input = h("input", { id: "correction-label", list: "image-classes", value: verified || "", autocomplete: "off" });
  const reload = () => location.reload();
  const form = h(
    "form",
    { class: "inline", id: "correction-form" },
    h("label", { for: "correction-label" }, "Verified label"),
    input,
    h(
      "datalist",
      { id: "image-classes" },
      classes.map((c) => h("option", { value: c })),
    ),
    h("button", { type: "submit" }, "Verify"),
    verified === null
      ? null
      : h(
          "button",
          {
            type: "button",
            id: "remove-correction",
            onclick: () => run(api(`/api/corrections?result_id=${result.id}`, { method: "DELETE" }).then(reload)),
          },
          "Remove",
        ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(api("/api/corrections", { method: "PUT", json: { result_id: result.id, label: input.value.trim() } }).then(reload));
  });
  const photo = picture(result, 512, meta.allowed_roots_set, { class: "photo" });
  main.replaceChildren(
    h("h1", {}, result.label || "failed", " ", h("small", {}, percent(result.confidence))),
    h(
      "div",
      { class: "image-page" },
      photo instanceof HTMLImageElement
        ? h("a", { href: `/api/results/${result.id}/image`, "aria-label": "the original file" }, photo)
        : photo,
      h(
        "div",
        { class: "image-facts" },
        h("p", { class: "path" }, result.image_path),
        h(
          "p",
          {},
          "version ",
          h("a", { href: viewUrl({ view: "gallery", version: result.model_version_id }) }, shortId(result.model_version_id)),
          result.job_id ? [" · job ", h("a", { href: viewUrl({ view: "job", id: result.job_id }) }, result.job_id)] : "",
        ),
        result.status === "ok"
          ? h("p", {}, h("a", { href: viewUrl({ view: "similar", id: result.id }), id: "more-like-this" }, "More like this"))
          : null,
        result.error ? h("p", { class: "error" }, result.error) : null,
        result.warning ? h("p", { class: "warning" }, result.warning) : null,
        h("h2", {}, "Top-k"),
        h(
          "ol",
          { class: "topk" },
          (result.top_k || []).map((k) => h("li", {}, `${k.label} `, shareMeter(k.confidence), ` ${percent(k.confidence)}`)),
        ),
        h("h2", {}, "Verified label"),
        h("p", { id: "verified" }, verified || "none"),
        form,
        h("h2", {}, "By version"),
        h(
          "table",
          { class: "stack" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["version", "label", "confidence"].map((t) => h("th", { scope: "col" }, t)),
            ),
          ),
          h(
            "tbody",
            {},
            byVersion.map((r) =>
              h(
                "tr",
                {},
                h(
                  "td",
                  { "data-label": "version" },
                  h("a", { href: viewUrl({ view: "image", id: r.id }) }, shortId(r.model_version_id)),
                ),
                h("td", { "data-label": "label" }, r.label || r.error),
                h("td", { "data-label": "confidence" }, percent(r.confidence)),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
