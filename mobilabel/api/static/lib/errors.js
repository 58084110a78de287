// Pure: the one line a person reads for an API error body. FastAPI answers either
// {"detail": "a sentence"} or, for a parameter it refused, {"detail": [{loc, msg, ...}, ...]}.

/** @typedef {import("mobilabel-api").ValidationError} ValidationError */

/**
 * @param {unknown} body the parsed JSON of an error answer (anything: it may not be ours)
 * @param {string} fallback what to say when the body has no usable detail (the status text)
 * @returns {string} one line, e.g. "min_confidence: Input should be less than or equal to 1"
 */
export function errorDetail(body, fallback) {
  const detail = body && typeof body === "object" && "detail" in body ? body.detail : undefined;
  if (typeof detail === "string" && detail.trim()) return oneLine(detail);
  if (Array.isArray(detail) && detail.length) return detail.map(problemText).join("; ");
  return fallback;
}

/** @param {unknown} problem one entry of a validation error's list @returns {string} */
function problemText(problem) {
  if (!problem || typeof problem !== "object") return String(problem);
  const { loc, msg } = /** @type {Partial<ValidationError>} */ (problem);
  // loc starts with where the value came from ("query", "body", "path"): the name is what the user set.
  const where = Array.isArray(loc)
    ? loc.filter((part, n) => n > 0 || !["query", "body", "path"].includes(String(part))).join(".")
    : "";
  const message = typeof msg === "string" ? msg : "invalid";
  return where ? `${where}: ${message}` : message;
}

/** @param {string} text @returns {string} the text with its line breaks folded into spaces */
function oneLine(text) {
  return text.replace(/\s*\n\s*/g, " ").trim();
}
