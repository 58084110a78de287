// Pure parts of the likely-mistakes, duplicates and "more like this" views: what a key asks for in the
// mistakes list, where focus goes after an answer, a group's likeliest label and its summary. No DOM,
// so `node --test` checks all of it (tests/js/curation.test.js).

/** @typedef {import("mobilabel-api").Member} Member */
/** @typedef {{ key: string, ctrlKey?: boolean, metaKey?: boolean, altKey?: boolean }} KeyPress */
/** @typedef {"use" | "keep" | "next" | "previous"} MistakeCommand */

/**
 * What a key pressed on a row of the mistakes list asks for: a or Enter takes the model's label, k keeps
 * the given one, ↓/j and ↑ move (no answer). Modified keys are the browser's.
 * @param {KeyPress} press
 * @returns {MistakeCommand | null}
 */
export function mistakeCommand(press) {
  if (press.ctrlKey || press.metaKey || press.altKey) return null;
  if (press.key === "a" || press.key === "Enter") return "use";
  if (press.key === "k") return "keep";
  if (press.key === "ArrowDown" || press.key === "j") return "next";
  if (press.key === "ArrowUp") return "previous";
  return null;
}

/**
 * The next row nobody answered here after ``from``, going round; ``from`` itself last.
 * @param {boolean[]} answered one per row
 * @param {number} from
 * @returns {number} its index, or -1 when every row is answered
 */
export function nextOpen(answered, from) {
  for (let step = 1; step <= answered.length; step++) {
    const i = (from + step) % answered.length;
    if (!answered[i]) return i;
  }
  return -1;
}

/**
 * The label a group most likely deserves, to offer first: the commonest standing answer, else the
 * commonest model label; ties go to the first met (the group's order).
 * @param {Pick<Member, "label" | "answered">[]} members
 * @returns {string}
 */
export function likeliestLabel(members) {
  const answered = members.filter((m) => m.answered && m.label);
  const pool = answered.length ? answered : members.filter((m) => m.label);
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const m of pool) counts.set(/** @type {string} */ (m.label), (counts.get(/** @type {string} */ (m.label)) || 0) + 1);
  let best = "";
  let most = 0;
  for (const [label, n] of counts) {
    if (n > most) [best, most] = [label, n];
  }
  return best;
}

/**
 * One line about a group: "3 photos · 1 answered · roses ×2, tulips".
 * @param {Pick<Member, "label" | "answered">[]} members
 * @returns {string}
 */
export function groupSummary(members) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const m of members) counts.set(m.label || "no label", (counts.get(m.label || "no label") || 0) + 1);
  const labels = [...counts].map(([label, n]) => (n > 1 ? `${label} ×${n}` : label)).join(", ");
  const answered = members.filter((m) => m.answered).length;
  return `${members.length} photos · ${answered} answered · ${labels}`;
}

/** @param {number | null | undefined} similarity cosine, -1..1 @returns {string} "similarity 0.93", or "" */
export function similarityText(similarity) {
  return similarity === null || similarity === undefined ? "" : `similarity ${similarity.toFixed(2)}`;
}

/** Where a checked label comes from, in words. @param {string} source answer | accepted | folder @returns {string} */
export function sourceText(source) {
  return { answer: "an answer", accepted: "accepted by mobilabel accept", folder: "its folder's name" }[source] || source;
}
