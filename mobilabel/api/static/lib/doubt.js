// Pure: which of a selection the model itself doubts, so bulk accept can say so before storing
// them, and when bulk accept asks at all. No DOM (tests/js/loop.test.js).

/** @typedef {import("mobilabel-api").Result} Result */

// Over a handful, one click stores more than a reviewer can have looked at: ask first.
export const HANDFUL = 5;
// Doubted: the top label under even odds, or the top two within 10 points. A cue for the reviewer,
// not a decision: the queue itself ranks by margin (review_queue.py) and needs no threshold.
export const LOW_CONFIDENCE = 0.5;
export const LOW_MARGIN = 0.1;

/** @param {Pick<Result, "confidence" | "top_k">} item @returns {number | null} top-1 minus top-2 probability; null without two */
export function margin(item) {
  const [first, second] = item.top_k || [];
  return first && second ? first.confidence - second.confidence : null;
}

/** @param {Pick<Result, "confidence" | "top_k">} item @returns {boolean} */
export function doubted(item) {
  const gap = margin(item);
  return (item.confidence ?? 0) < LOW_CONFIDENCE || (gap !== null && gap < LOW_MARGIN);
}

/**
 * The question bulk accept asks before storing the labels of ``items``, or null when it need not ask.
 * @param {Array<Pick<Result, "confidence" | "top_k">>} items the selected images with a label to accept
 * @returns {string | null}
 */
export function bulkQuestion(items) {
  if (items.length <= HANDFUL) return null;
  const doubts = items.filter(doubted).length;
  const cue =
    doubts === 0
      ? "The model is sure of each of them."
      : `The model itself doubts ${doubts} of them (confidence under ${100 * LOW_CONFIDENCE}%, or its top two within ${100 * LOW_MARGIN} points).`;
  return `Store the predicted label of ${items.length} images as verified answers (training data)? ${cue} OK stores all ${items.length}; Cancel stores none.`;
}

/**
 * The estimated accuracy on the unreviewed rest, as the page says it.
 * @param {{ accuracy: number | null, low: number | null, high: number | null, audit_answers: number }} estimate
 * @returns {string}
 */
export function estimateText(estimate) {
  const { accuracy, low, high, audit_answers: n } = estimate;
  if (accuracy === null || low === null || high === null)
    return "estimated accuracy on the unreviewed rest: no audit answers yet (the queue mixes a few in: answer them)";
  const pc = (/** @type {number} */ share) => `${Math.round(100 * share)}%`;
  return `estimated accuracy on the unreviewed rest: ${pc(accuracy)} (95% interval ${pc(low)}–${pc(high)}), from ${n} audit answer${n === 1 ? "" : "s"}`;
}
