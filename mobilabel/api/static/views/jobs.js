// The jobs view: start labelling a folder, and every job with its progress, followed live while any
// runs. Rows are kept by job id and only their changed cells are written.

import { api } from "../lib/api.js";
import { h, say, setText, syncKeyed } from "../lib/dom.js";
import { durationText, rateText, viewUrl } from "../lib/format.js";
import { poll } from "../lib/poll.js";
import { cell, progressBar, setProgress } from "../lib/widgets.js";

/** @typedef {import("mobilabel-api").Job} Job */
/** @typedef {import("mobilabel-api").Meta} Meta */

const COLUMNS = ["Job", "Folder", "Status", "Progress", "Failed", "Rate", "Time left", "Review"];

/** @param {HTMLElement} main @param {URLSearchParams} _params @param {Meta} meta */
export async function showJobs(main, _params, meta) {
  const active = new Set(meta.job_states.active);
  const rows = h("tbody", {});
  const table = h(
    "table",
    { class: "jobs stack" },
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
  const follow = poll(
    () => /** @type {Promise<Job[]>} */ (api("/api/jobs?limit=200")),
    (jobs) => syncKeyed(rows, jobs, (job) => job.id, jobRow, paintJob),
    (jobs) => jobs.some((job) => active.has(job.status)),
  );
  main.replaceChildren(
    h("h1", {}, "Jobs"),
    startForm(meta, () => follow.now()),
    table,
  );
  const jobs = /** @type {Job[]} */ (await api("/api/jobs?limit=200"));
  syncKeyed(rows, jobs, (job) => job.id, jobRow, paintJob);
  if (jobs.some((job) => active.has(job.status))) follow.now();
}

/** @param {Meta} meta @param {() => void} started */
function startForm(meta, started) {
  const folder = h("input", {
    id: "folder",
    name: "folder",
    placeholder: "/absolute/folder/on/the/server",
    autocomplete: "off",
    required: true,
  });
  const form = h(
    "form",
    { class: "inline", id: "start-job" },
    h("label", { for: "folder" }, "Folder to label"),
    folder,
    h("button", { type: "submit", disabled: !meta.allowed_roots_set }, "Label folder"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const job = /** @type {Job} */ (await api("/api/jobs", { json: { folder: folder.value.trim() } }));
      say(`job ${job.id} started`);
      started();
    } catch (error) {
      say(/** @type {Error} */ (error).message, true);
    }
  });
  return form;
}

/** @param {Job} job @returns {HTMLTableRowElement} */
function jobRow(job) {
  return h(
    "tr",
    { "data-job": job.id },
    cell("Job", "id", h("a", { href: viewUrl({ view: "job", id: job.id }) }, job.id)),
    cell("Folder", "path"),
    cell("Status", "status"),
    cell("Progress", "progress-cell", progressBar(`progress of job ${job.id}`)),
    cell("Failed", "failed"),
    cell("Rate", "rate"),
    cell("Time left", "eta"),
    cell("Review", "queue", h("a", { href: viewUrl({ view: "gallery", job: job.id, sort: "confidence" }) }, "review queue")),
  );
}

/** @param {HTMLTableRowElement} row @param {Job} job */
function paintJob(row, job) {
  const at = (/** @type {string} */ name) => /** @type {HTMLElement} */ (row.querySelector(`.${name}`));
  setText(at("path"), job.root);
  setText(at("status"), job.error ? `${job.status}: ${job.error}` : job.status);
  setProgress(/** @type {HTMLElement} */ (at("progress-cell").firstElementChild), job.processed, job.total);
  setText(at("failed"), job.failed);
  setText(at("rate"), rateText(job.rate));
  setText(at("eta"), durationText(job.eta_s));
}
