// Pure formatting: numbers, ids, URLs of views and thumbnails, a training run's progress. No DOM, so
// `node --test` checks all of it (tests/js/format.test.js).

/** @typedef {import("mobilabel-api").Result} Result */
/** @typedef {import("mobilabel-api").RunProgress} RunProgress */

/** @param {number | null | undefined} share 0..1 @returns {string} "83.4%", or "" for none */
export function percent(share) {
  return share === null || share === undefined ? "" : `${(100 * share).toFixed(1)}%`;
}

/** @param {string | null | undefined} id a version id (a long hex digest) @returns {string} its first 12 characters */
export function shortId(id) {
  return (id || "").slice(0, 12);
}

/**
 * The address of a view: "?view=gallery&label=daisy"; empty, null and undefined values are left out,
 * so a view's URL holds only what was chosen and can be shared.
 * @param {Record<string, string | number | boolean | null | undefined>} query
 * @returns {string}
 */
export function viewUrl(query) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  return `?${search.toString()}`;
}

/**
 * A result's thumbnail. With its fingerprint as ?v= the server lets the browser keep it for a year:
 * a changed file gets a new URL.
 * @param {Pick<Result, "id" | "content_id">} result
 * @param {number} size longest side in pixels, one of the server's thumbnail sizes
 * @returns {string}
 */
export function thumbnailUrl(result, size = 256) {
  const version = result.content_id ? `&v=${encodeURIComponent(result.content_id)}` : "";
  return `/api/results/${result.id}/thumbnail?size=${size}${version}`;
}

/** @param {Pick<Result, "id">} result @returns {string} its original file, at full resolution */
export function imageUrl(result) {
  return `/api/results/${result.id}/image`;
}

/** @param {number} done @param {number} total @returns {number} whole percent, 0..100 (0 when total is 0) */
export function wholePercent(done, total) {
  return total > 0 ? Math.min(100, Math.round((100 * done) / total)) : 0;
}

/** @param {number | null} rate images per second @returns {string} */
export function rateText(rate) {
  return rate === null ? "" : `${rate.toFixed(1)} img/s`;
}

/** @param {number | null} seconds @returns {string} "45 s", "3 min 5 s", "" for none */
export function durationText(seconds) {
  if (seconds === null) return "";
  const whole = Math.ceil(seconds);
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

const PHASES = /** @type {Record<string, string>} */ ({ train: "training", val: "validating" });

/**
 * A training run's progress as a person reads it: "epoch 2 of 8 · training 45% · accuracy 81.2% · loss 0.431".
 * @param {RunProgress | null} progress
 * @returns {string}
 */
export function runProgressText(progress) {
  if (!progress) return "";
  const phase = PHASES[progress.phase] || progress.phase;
  return [
    `epoch ${progress.epoch} of ${progress.epochs}`,
    `${phase} ${wholePercent(progress.done, progress.total)}%`,
    `accuracy ${percent(progress.accuracy)}`,
    `loss ${progress.loss.toFixed(3)}`,
  ].join(" · ");
}

/**
 * How much of the whole run is done, 0..1: finished epochs plus this one's share (training and
 * validation each half of an epoch).
 * @param {RunProgress | null} progress
 * @returns {number}
 */
export function runShare(progress) {
  if (!progress || progress.epochs <= 0) return 0;
  const phaseShare = progress.total > 0 ? progress.done / progress.total : 0;
  const epochShare = progress.phase === "val" ? 0.5 + phaseShare / 2 : phaseShare / 2;
  return Math.min(1, (progress.epoch - 1 + epochShare) / progress.epochs);
}
