// Pure: what a key pressed in review mode asks for. One key per image: Enter or a accepts the
// prediction, 1-9 picks from the top-k, a letter starts typing a class, Space or → skips, ← goes
// back, u or Ctrl/Cmd-Z undoes, / jumps to the class filter, 0 answers "other" (none of my classes),
// ? answers "skip" (not sure), + zooms the photo to full resolution. Esc is the dialog's own (it closes).
// Answers and zoom are not letters, since every letter starts typing a class.

/**
 * @typedef {{ key: string, ctrlKey?: boolean, metaKey?: boolean, altKey?: boolean }} KeyPress
 * @typedef {{ kind: "accept" } | { kind: "pick", rank: number } | { kind: "next" } | { kind: "back" }
 *   | { kind: "undo" } | { kind: "filter" } | { kind: "type" } | { kind: "other" } | { kind: "skip" }
 *   | { kind: "zoom" }} Command
 *   pick: rank 0 is the first of the top-k; filter: focus the class filter (the key is used up);
 *   type: focus it and let the letter land there; other, skip: the reserved answers; zoom: full resolution or back
 */

/** @param {KeyPress} press @returns {Command | null} null: not a review key (the browser's) */
export function reviewCommand(press) {
  const command = press.ctrlKey || press.metaKey;
  if ((press.key === "z" || press.key === "Z") && command && !press.altKey) return { kind: "undo" };
  if (command || press.altKey) return null;
  if (press.key === "Enter" || press.key === "a") return { kind: "accept" };
  if (/^[1-9]$/.test(press.key)) return { kind: "pick", rank: Number(press.key) - 1 };
  if (press.key === " " || press.key === "ArrowRight") return { kind: "next" };
  if (press.key === "ArrowLeft") return { kind: "back" };
  if (press.key === "u") return { kind: "undo" };
  if (press.key === "/") return { kind: "filter" };
  if (press.key === "0") return { kind: "other" };
  if (press.key === "?") return { kind: "skip" };
  if (press.key === "+") return { kind: "zoom" };
  if (/^[a-zA-Z]$/.test(press.key)) return { kind: "type" };
  return null;
}

/**
 * The classes whose name holds what was typed, in their order (case ignored).
 * @param {string[]} classes
 * @param {string} typed
 * @returns {string[]}
 */
export function matchClasses(classes, typed) {
  const wanted = typed.trim().toLowerCase();
  return classes.filter((name) => name.toLowerCase().includes(wanted));
}

/**
 * Whether what was typed would be a new class: a name (blanks trimmed) that is none of the classes,
 * case ignored (a case-only variant is the existing class, not a new one).
 * @param {string[]} classes every name an answer may use, reserved ones included
 * @param {string} typed
 * @returns {string | null} the new name, or null
 */
export function newClassName(classes, typed) {
  const name = typed.trim();
  if (!name) return null;
  const wanted = name.toLowerCase();
  return classes.some((c) => c.toLowerCase() === wanted) ? null : name;
}
