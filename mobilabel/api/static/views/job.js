// One job: its progress, its label distribution (each bar opens those images) and its failures with
// their reasons, followed live while it runs; a part is rewritten only when its data changed.

import { api } from "../lib/api.js";
import { fill, h, setText } from "../lib/dom.js";
import { viewUrl } from "../lib/format.js";
import { poll } from "../lib/poll.js";
import { imagenetNotice, progressBar, setProgress } from "../lib/widgets.js";

/** @typedef {import("mobilabel-api").Job} Job */
/** @typedef {import("mobilabel-api").LabelCount} LabelCount */
/** @typedef {import("mobilabel-api").ResultPage} ResultPage */
/** @typedef {import("mobilabel-api").Meta} Meta */
/** @typedef {import("mobilabel-api").Version} Version */
/** @typedef {{ job: Job, labels: LabelCount[], failures: ResultPage }} JobState */

/** @param {HTMLElement} main @param {URLSearchParams} params @param {Meta} meta */
export async function showJob(main, params, meta) {
  const id = params.get("id") || "";
  const load = async () => {
    const [job, labels, failures] = await Promise.all([
      api(`/api/jobs/${encodeURIComponent(id)}`),
      api(`/api/jobs/${encodeURIComponent(id)}/labels`),
      api(`/api/results?job=${encodeURIComponent(id)}&status=failed&limit=100`),
    ]);
    return /** @type {JobState} */ ({ job, labels, failures });
  };
  const first = await load();
  const versionId = first.job.model_version_id;
  const version = versionId ? /** @type {Version} */ (await api(`/api/models/${encodeURIComponent(versionId)}`)) : null;
  const title = h("h1", {});
  const bar = progressBar("images labelled, failed or unchanged");
  const counts = h("p", { class: "counts" });
  const chart = h("div", { class: "chart", role: "list", "aria-label": "label distribution" });
  const failuresTitle = h("h2", {});
  const failures = h("ul", { class: "failures" });
  /** @type {Record<string, string>} */
  const painted = {};
  /** Rewrite a part only when its data changed. @param {string} part @param {unknown} data @param {() => void} paint */
  const whenChanged = (part, data, paint) => {
    const signature = JSON.stringify(data);
    if (painted[part] !== signature) paint();
    painted[part] = signature;
  };
  /** @param {JobState} state */
  const paint = ({ job, labels, failures: failed }) => {
    setText(title, `Job ${job.id}: ${job.status}`);
    setProgress(bar, job.processed, job.total);
    // processed counts the images an incremental run found unchanged too: say how the total splits
    setText(counts, `${job.done} labelled, ${job.failed} failed, ${job.skipped} unchanged`);
    whenChanged("labels", labels, () => paintChart(chart, id, labels));
    setText(failuresTitle, `Failures (${job.failed})`);
    whenChanged("failures", failed.items, () =>
      fill(
        failures,
        failed.items.map((r) => h("li", {}, h("span", { class: "path" }, r.image_path), ": ", r.error)),
      ),
    );
  };
  paint(first);
  main.replaceChildren(
    title,
    h("p", { class: "path" }, first.job.root),
    bar,
    counts,
    first.job.error ? h("p", { class: "error" }, first.job.error) : "",
    version?.imagenet ? imagenetNotice() : "",
    h(
      "p",
      {},
      h("a", { href: viewUrl({ view: "gallery", job: id }) }, "gallery"),
      " · ",
      h("a", { href: viewUrl({ view: "gallery", job: id, sort: "confidence" }) }, "review queue (least sure first)"),
    ),
    h("h2", {}, "Labels"),
    chart,
    failuresTitle,
    failures,
  );
  const active = new Set(meta.job_states.active);
  if (active.has(first.job.status)) poll(load, paint, (state) => active.has(state.job.status)).now();
}

/** @param {HTMLElement} chart @param {string} id @param {LabelCount[]} labels */
function paintChart(chart, id, labels) {
  const ok = labels.filter((row) => row.status === "ok");
  const most = Math.max(1, ...ok.map((row) => row.images));
  fill(
    chart,
    ok.map((row) =>
      h(
        "a",
        {
          class: "chart-row",
          role: "listitem",
          href: viewUrl({ view: "gallery", job: id, label: row.label, sort: "confidence" }),
        },
        h("span", { class: "chart-label" }, row.label),
        h("meter", { class: "chart-bar", min: 0, max: most, value: row.images, "aria-hidden": "true" }),
        h("span", { class: "chart-count" }, row.images),
      ),
    ),
  );
}
