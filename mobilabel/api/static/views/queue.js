// The review queue: the images the model asks about, chosen and leased to this reviewer by the server
// (POST /api/review/next: uncertain, diverse, audit), answered one at a time in review mode. It shows
// the queue's size and what is left, why each image was asked, and the active version's estimated
// accuracy on the unreviewed rest, asked again after each answer. The reviewer's name is asked once
// and kept in this browser.

import { api } from "../lib/api.js";
import { ownClasses } from "../lib/classes.js";
import { h, run, say, setText } from "../lib/dom.js";
import { estimateText } from "../lib/doubt.js";
import { savedReviewer, saveReviewer } from "../lib/reviewer.js";
import { Verdicts } from "../lib/verdicts.js";
import { imagenetNotice } from "../lib/widgets.js";
import { openReview } from "./review.js";

/** @typedef {import("mobilabel-api").Result} Result */
/** @typedef {import("mobilabel-api").Version} Version */
/** @typedef {import("mobilabel-api").Correction} Correction */
/** @typedef {import("mobilabel-api").Class} Class */
/** @typedef {import("mobilabel-api").QueueBatch} QueueBatch */
/** @typedef {import("mobilabel-api").Estimate} Estimate */
/** @typedef {import("mobilabel-api").Meta} Meta */

const BATCH = 20; // as `mobilabel review next`'s default
/** Why the queue asks about an image, in the reviewer's words. */
const REASONS = /** @type {Record<string, string>} */ ({
  uncertain: "the model is torn between its top two labels",
  diverse: "spreads the questions over the library",
  audit: "a random draw: it measures the accuracy on the rest, never trained on",
  check: "a random draw of the labels accept would take: your answers certify them, never trained on",
});

/** @param {HTMLElement} main @param {URLSearchParams} params @param {Meta} meta @returns {Promise<void>} */
export async function showQueue(main, params, meta) {
  const reviewer = savedReviewer();
  if (!reviewer) return askReviewer(main, () => showQueue(main, params, meta));
  const [versions, classes, corrections] = /** @type {[Version[], Class[], Correction[]]} */ (
    await Promise.all([api("/api/models"), api("/api/classes"), api("/api/corrections")])
  );
  const active = versions.find((v) => v.active);
  const verdicts = new Verdicts(corrections, reviewer);
  const own = ownClasses(versions, classes);
  const count = Math.max(1, Number(params.get("count")) || BATCH);
  /** @type {Result[]} */
  const items = [];
  /** @type {Map<number, string>} */
  const reasons = new Map();
  let left = 0;
  /** @type {Result | undefined} */
  let shown;
  /** @type {{ close: () => void } | null} */
  let review = null;

  const queueLine = h("p", { id: "queue-size" });
  const reasonLine = h("p", { id: "queue-reason" });
  const estimateLine = h("p", { id: "estimate" });
  const status = h("div", { class: "queue-status", "aria-live": "polite" }, queueLine, reasonLine, estimateLine);
  const home = h("div", {}, status); // where the status sits while review mode is closed
  const paint = () => {
    const answered = items.filter((i) => verdicts.of(i) !== undefined).length;
    setText(queueLine, `queue: ${answered} of ${items.length} answered · ${left} more to review after these`);
    const reason = shown ? reasons.get(shown.id) : undefined;
    setText(reasonLine, reason ? `asked because: ${REASONS[reason] || reason} (${reason})` : "");
  };
  async function refreshEstimate() {
    if (!active || active.imagenet) return setText(estimateLine, "");
    setText(estimateLine, estimateText(/** @type {Estimate} */ (await api("/api/models/active/estimate"))));
  }

  /** @type {Promise<void> | null} */
  let loading = null;
  /** The next batch, once at a time: review mode asks for it as the end nears. */
  function nextBatch() {
    loading ??= leaseBatch().finally(() => {
      loading = null;
    });
    return loading;
  }
  async function leaseBatch() {
    const batch = /** @type {QueueBatch} */ (await api("/api/review/next", { json: { reviewer, count } }));
    const results = /** @type {Result[]} */ (await Promise.all(batch.items.map((i) => api(`/api/results/${i.result_id}`))));
    for (const q of batch.items) reasons.set(q.result_id, q.reason);
    verdicts.learn(results);
    items.push(...results);
    left = batch.left;
    paint();
  }

  function startReview() {
    if (review) return;
    if (!items.length) return say("nothing to review: every image is answered, or leased to another reviewer");
    const first = items.findIndex((i) => verdicts.of(i) === undefined);
    review = openReview({
      items,
      start: first < 0 ? items.length - 1 : first,
      hasMore: () => left > 0,
      loadMore: nextBatch,
      verdictOf: (item) => verdicts.of(item),
      classesFor: () => own,
      answers: meta.answers,
      addClass: async (name) => {
        await api("/api/classes", { json: { name } });
        own.push(name);
        say(`class “${name}” added`);
      },
      status,
      imagesOn: meta.allowed_roots_set,
      decide: async (item, label) => {
        await verdicts.verify([[item, label]], paint);
        await refreshEstimate();
      },
      undo: async () => {
        const [item] = await verdicts.undo(paint);
        say(item ? "undone" : "nothing to undo");
        await refreshEstimate();
        return item;
      },
      shown: (item) => {
        shown = item;
        paint();
      },
      closed: () => {
        review = null;
        home.append(status);
      },
    });
  }

  document.addEventListener("keydown", (event) => {
    const typing = event.target instanceof HTMLInputElement;
    if (review || typing || event.altKey || event.ctrlKey || event.metaKey || event.key !== "r") return;
    event.preventDefault();
    startReview();
  });
  main.replaceChildren(
    h("h1", {}, "Review queue"),
    active?.imagenet ? imagenetNotice() : "",
    h(
      "p",
      {},
      `Answering as ${reviewer}. The model picks what to ask; each batch of ${count} is held for you alone for a while. `,
      h(
        "button",
        { type: "button", id: "forget-reviewer", onclick: () => askReviewer(main, () => location.reload()) },
        "Not you?",
      ),
    ),
    home,
    h(
      "div",
      { class: "toolbar" },
      h("button", { type: "button", id: "start-review", onclick: startReview }, "Review (r)"),
      h("a", { href: "?view=gallery&unreviewed=true&sort=confidence" }, "Unreviewed images in the gallery"),
    ),
  );
  await Promise.all([nextBatch(), refreshEstimate()]);
  if (items.length) startReview();
  else say("nothing to review: every image is answered, or leased to another reviewer");
}

/**
 * The reviewer's name, asked once: answers record who gave them.
 * @param {HTMLElement} main
 * @param {() => unknown} then
 * @param {string} [title] the heading of the view asking
 */
export function askReviewer(main, then, title = "Review queue") {
  const input = h("input", {
    id: "reviewer",
    name: "reviewer",
    required: true,
    autocomplete: "name",
    value: savedReviewer() || "",
  });
  const form = h(
    "form",
    { id: "reviewer-form", class: "inline" },
    h("label", { for: "reviewer" }, "Your name "),
    input,
    h("button", { type: "submit" }, "Start"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = /** @type {HTMLInputElement} */ (input).value.trim();
    if (!name) return;
    saveReviewer(name);
    run(Promise.resolve(then()));
  });
  main.replaceChildren(
    h("h1", {}, title),
    h("p", {}, "Who is answering? The name is kept in this browser and recorded with each answer."),
    form,
  );
  input.focus();
}
