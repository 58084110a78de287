// Duplicates: groups of near-identical photos (bursts, crops, resizes, recompressions, colour edits;
// GET /api/review/duplicates), largest first, each answered at once: one answer labels every photo
// of the group, and each still gets its own answer row with the group noted (POST /api/review/group).

import { api } from "../lib/api.js";
import { groupSummary, likeliestLabel } from "../lib/curation.js";
import { fill, h, say, setText } from "../lib/dom.js";
import { savedReviewer } from "../lib/reviewer.js";
import { answerGroup, classList, groupForm, memberTile, paintMember } from "./members.js";
import { askReviewer } from "./queue.js";

/** @typedef {import("mobilabel-api").Groups} Groups */
/** @typedef {import("mobilabel-api").Member} Member */
/** @typedef {import("mobilabel-api").Meta} Meta */

const TITLE = "Duplicates";
const SHOWN = 50; // groups on the page; `&limit=N` shows more

/** @param {HTMLElement} main @param {URLSearchParams} params @param {Meta} meta @returns {Promise<void>} */
export async function showDuplicates(main, params, meta) {
  const reviewer = savedReviewer();
  if (!reviewer) return askReviewer(main, () => showDuplicates(main, params, meta), TITLE);
  const threshold = params.get("threshold");
  const query = threshold ? `?threshold=${encodeURIComponent(threshold)}` : "";
  const [found, classes] = /** @type {[Groups, HTMLDataListElement]} */ (
    await Promise.all([api(`/api/review/duplicates${query}`), classList()])
  );
  const limit = Math.max(1, Number(params.get("limit")) || SHOWN);
  const shown = found.groups.slice(0, limit);
  fill(
    main,
    h("h1", {}, TITLE),
    h(
      "p",
      {},
      `${found.groups.length} groups of near-identical photos, largest first${found.groups.length > limit ? `; the first ${limit} shown` : ""}. `,
      "One answer labels every photo of a group; each photo keeps its own answer. ",
      `Answering as ${reviewer}.`,
    ),
    classes,
    shown.length
      ? shown.map((members, i) => groupSection(members, i + 1, meta.allowed_roots_set, reviewer))
      : h("p", {}, "No near-duplicates found."),
  );
}

/**
 * One group: its photos and the form that answers all of them.
 * @param {Member[]} members
 * @param {number} n its place in the list, from 1
 * @param {boolean} imagesOn
 * @param {string} reviewer
 * @returns {HTMLElement}
 */
function groupSection(members, n, imagesOn, reviewer) {
  const id = `group-${n}`;
  const summary = h("p", { class: "summary" });
  const grid = h("div", { class: "grid", role: "list", "aria-label": `photos of group ${n}` });
  const tiles = members.map((m) => memberTile(m, imagesOn));
  grid.append(...tiles);
  const paint = () => {
    setText(summary, groupSummary(members));
    members.forEach((m, i) => {
      paintMember(tiles[i], m, false);
    });
  };
  const { form, setButton } = groupForm(id, likeliestLabel(members), async (label, newClass) => {
    const done = await answerGroup(
      members.map((m) => m.result_id),
      label,
      newClass,
      reviewer,
    );
    for (const m of members) Object.assign(m, { label, answered: true });
    paint();
    say(`group ${n}: ${done.answers} photos answered ${label}`);
  });
  setButton(`Answer all ${members.length}`, true);
  paint();
  return h(
    "section",
    { class: "group", id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, `Group ${n}`),
    summary,
    grid,
    form,
  );
}
