// The gallery: a grid of results (filtered, a comparison's flip, or a confusion cell), loaded a
// page at a time as it scrolls; select tiles (click, shift-click) to accept or assign a label in
// bulk (asking first when it is more than a handful); r opens review mode (views/review.js) over the
// images of this view; u or Ctrl-Z undoes the last decision. The review queue chosen by the model is
// views/queue.js.

import { api } from "../lib/api.js";
import { h, run, say } from "../lib/dom.js";
import { bulkQuestion } from "../lib/doubt.js";
import { savedReviewer } from "../lib/reviewer.js";
import { select } from "../lib/selection.js";
import { gallerySource, pageRequest } from "../lib/sources.js";
import { Verdicts } from "../lib/verdicts.js";
import { FILTERS, filterForm } from "./filters.js";
import { openReview } from "./review.js";
import { paintTile, tile } from "./tiles.js";

/** @typedef {import("mobilabel-api").Result} Result */
/** @typedef {import("mobilabel-api").ResultPage} ResultPage */
/** @typedef {import("mobilabel-api").Version} Version */
/** @typedef {import("mobilabel-api").Correction} Correction */
/** @typedef {import("mobilabel-api").Meta} Meta */
/** @typedef {import("mobilabel-api").Class} Class */
/** @typedef {import("mobilabel-api").Refresh} Refresh */

const PAGE_SIZE = 60;

/** @param {HTMLElement} main @param {URLSearchParams} params @param {Meta} meta */
export async function showGallery(main, params, meta) {
  const source = gallerySource(params, FILTERS);
  const [corrections, versions, classes] = /** @type {[Correction[], Version[], Class[]]} */ (
    await Promise.all([api("/api/corrections"), api("/api/models"), api("/api/classes")])
  );
  const verdicts = new Verdicts(corrections, savedReviewer());
  const classesOf = new Map(versions.map((v) => [v.id, v.classes]));
  // Your own classes first, then each version's (ImageNet's 1,000 among them until you train).
  const own = classes.filter((c) => c.state === "active").map((c) => c.name);
  const allClasses = [...new Set(versions.flatMap((v) => v.classes))].sort();
  const classesFor = (/** @type {Result} */ item) => [
    ...new Set([...own, ...(classesOf.get(item.model_version_id) || allClasses)]),
  ];
  const state = {
    /** @type {Result[]} */ items: [],
    /** @type {string | null | undefined} undefined: not loaded yet; null: no more */ next: undefined,
    /** @type {Set<number>} */ selected: new Set(),
    /** @type {number | null} */ anchor: null,
    /** @type {{ close: () => void } | null} */ review: null,
  };

  const grid = h("div", { class: "grid", role: "list", "aria-label": "images" });
  const progress = h("p", { id: "review-progress", "aria-live": "polite" });
  const more = h("button", { type: "button", id: "more", hidden: true }, "More");
  const failure = h("p", { id: "gallery-error", class: "error", role: "alert", hidden: true });
  const labelInput = h("input", { id: "bulk-label", list: "all-classes", placeholder: "label", autocomplete: "off" });

  const figureOf = (/** @type {Result} */ item) =>
    /** @type {HTMLElement | null} */ (grid.querySelector(`[data-id="${item.id}"]`));
  const repaint = (/** @type {Result} */ item) => {
    const figure = figureOf(item);
    if (figure) paintTile(figure, state.selected.has(item.id), verdicts.of(item));
  };
  const showProgress = () => {
    const reviewed = state.items.filter((i) => verdicts.of(i) !== undefined).length;
    const remaining = `${state.items.length - reviewed}${state.next ? "+" : ""}`;
    progress.textContent = `reviewed ${reviewed} / remaining ${remaining} in this view · ${state.selected.size} selected`;
  };
  const changed = (/** @type {Result} */ item) => {
    repaint(item);
    showProgress();
  };

  /** @type {Promise<void> | null} */
  let loading = null;
  /** The next page, once: the scroll sentinel and review mode may both ask for it. */
  function loadMore() {
    loading ??= loadPage().finally(() => {
      loading = null;
    });
    return loading;
  }

  async function loadPage() {
    if (state.next === null) return;
    const last = state.items.at(-1);
    const answer = await api(pageRequest(source, PAGE_SIZE, last ? last.id : null, state.next || null));
    /** @type {ResultPage} */
    const page = source.byId ? { items: answer, next_cursor: answer.length === PAGE_SIZE ? "more" : null } : answer;
    verdicts.learn(page.items);
    state.items.push(...page.items);
    state.next = page.next_cursor;
    for (const item of page.items) {
      const figure = tile(item, meta.allowed_roots_set, choose);
      paintTile(figure, false, verdicts.of(item));
      grid.append(figure);
    }
    more.hidden = state.next === null;
    if (!state.items.length) grid.append(h("p", { role: "listitem" }, "No images in this view."));
    showProgress();
  }

  /** @param {Result} item @param {boolean} range */
  function choose(item, range) {
    const before = state.selected;
    ({ selected: state.selected, anchor: state.anchor } = select(
      before,
      state.items.map((i) => i.id),
      item.id,
      range,
      state.anchor,
    ));
    for (const each of state.items) if (before.has(each.id) !== state.selected.has(each.id) || each.id === item.id) repaint(each);
    showProgress();
  }

  /** @param {Array<[Result, string]>} changes */
  async function verify(changes) {
    await verdicts.verify(changes, changed);
    say(`verified ${changes.length} image${changes.length === 1 ? "" : "s"}`);
  }

  /** @returns {Promise<Result | undefined>} the first image undone, for review mode to go back to */
  async function undo() {
    const items = await verdicts.undo(changed);
    say(items.length ? `undone (${items.length})` : "nothing to undo");
    return items[0];
  }

  const chosen = () => state.items.filter((i) => state.selected.has(i.id));
  const setAll = (/** @type {boolean} */ on) => {
    state.selected = new Set(on ? state.items.map((i) => i.id) : []);
    state.items.forEach(repaint);
    showProgress();
  };
  const assign = () => {
    const label = labelInput.value.trim();
    if (!label) return say("type a label first", true);
    if (!state.selected.size) return say("select images first (click, shift-click)", true);
    run(verify(chosen().map((i) => [i, label])));
  };
  function acceptSelected() {
    const accepted = chosen().filter((i) => i.label);
    const question = bulkQuestion(accepted);
    if (question !== null && !confirm(question)) return say("nothing stored");
    run(verify(accepted.map((i) => [i, /** @type {string} */ (i.label)])));
  }
  const toolbar = h(
    "div",
    { class: "toolbar", role: "group", "aria-label": "selected images" },
    h("button", { type: "button", id: "select-all", onclick: () => setAll(true) }, "Select all"),
    h("button", { type: "button", onclick: () => setAll(false) }, "Clear"),
    h(
      "button",
      {
        type: "button",
        id: "accept-selected",
        onclick: acceptSelected,
      },
      "Accept selected",
    ),
    h("label", { for: "bulk-label", class: "visually-hidden" }, "label for the selected images"),
    labelInput,
    h(
      "datalist",
      { id: "all-classes" },
      allClasses.map((c) => h("option", { value: c })),
    ),
    h("button", { type: "button", id: "assign-selected", onclick: assign }, "Assign label"),
    h("button", { type: "button", id: "undo", onclick: () => run(undo()) }, "Undo (u)"),
    h("button", { type: "button", id: "start-review", onclick: () => startReview() }, "Review (r)"),
    h("button", { type: "button", id: "update-suggestions", onclick: () => run(updateSuggestions()) }, "Update suggestions"),
  );

  /** A quick head on the answers' stored embeddings (POST /api/suggestions/refresh), then says what it did. */
  async function updateSuggestions() {
    say("updating the suggestions from your answers…");
    /** @type {Refresh} */
    const report = await api("/api/suggestions/refresh", { json: {} });
    if (!report.promoted) return say(`suggestions not updated: ${report.reason}`, true);
    say(
      `suggestions updated: ${report.relabelled} images relabelled in ${report.seconds.toFixed(1)} s (${report.reason}); reload to see them`,
    );
  }

  function startReview() {
    if (state.review) return;
    if (!state.items.length) return say("nothing to review in this view");
    const first = state.items.findIndex((i) => i.status === "ok" && verdicts.of(i) === undefined);
    state.review = openReview({
      items: state.items,
      start: Math.max(first, 0),
      hasMore: () => Boolean(state.next),
      loadMore,
      verdictOf: (item) => verdicts.of(item),
      classesFor,
      answers: meta.answers,
      addClass: async (name) => {
        await api("/api/classes", { json: { name } });
        own.push(name);
      },
      imagesOn: meta.allowed_roots_set,
      decide: (item, label) => verify([[item, label]]),
      undo,
      shown: (item) => figureOf(item)?.scrollIntoView({ block: "nearest" }),
      closed: () => {
        state.review = null;
      },
    });
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = (target instanceof HTMLInputElement && target.type !== "checkbox") || target instanceof HTMLSelectElement;
    if (state.review || event.altKey || typing) return;
    if (event.key === "r" && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      startReview();
    } else if (
      (event.key === "z" && (event.ctrlKey || event.metaKey)) ||
      (event.key === "u" && !event.ctrlKey && !event.metaKey)
    ) {
      event.preventDefault();
      run(undo());
    }
  });
  more.addEventListener("click", () => run(loadMore()));
  const sentinel = h("div", { class: "sentinel" });
  new IntersectionObserver((entries) => {
    if (entries[0].isIntersecting && state.next) run(loadMore());
  }).observe(sentinel);

  main.replaceChildren(
    h("h1", {}, source.title),
    source.byId ? "" : filterForm(params, meta, versions),
    failure,
    toolbar,
    progress,
    grid,
    more,
    sentinel,
  );
  try {
    await loadMore();
  } catch (error) {
    // A filter the server refuses (an unknown label, a confidence over 1): its one line, by the form that set it.
    failure.textContent = /** @type {Error} */ (error).message;
    failure.hidden = false;
    say(failure.textContent, true);
    return;
  }
  if (params.get("review") === "1") startReview();
}
