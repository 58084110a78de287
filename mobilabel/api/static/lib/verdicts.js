// The verified labels the gallery and review show, and the decisions made here with their undo.
// A verified label belongs to an image's content (its hash): the same photo under two paths shares it.

import { api } from "./api.js";

/** @typedef {import("mobilabel-api").Result} Result */
/** @typedef {import("mobilabel-api").Correction} Correction */
/** @typedef {{ item: Result, before: string | undefined }} Undo */

/** @param {Pick<Result, "content_hash" | "image_path">} item @returns {string} */
export function contentKey(item) {
  return item.content_hash || item.image_path;
}

export class Verdicts {
  /**
   * @param {Correction[]} corrections every current verified label (GET /api/corrections)
   * @param {string | null} [reviewer] who answers (sent with each answer; none: the server's MOBILABEL_REVIEWER)
   */
  constructor(corrections, reviewer = null) {
    this.reviewer = reviewer;
    /** @type {Map<string, string>} */
    this.labels = new Map(corrections.filter((c) => c.state !== "stale").map((c) => [contentKey(c), c.label]));
    /** @type {Undo[][]} one entry per decision, newest last */
    this.steps = [];
  }

  /** @param {Result} item @returns {string | undefined} its verified label */
  of(item) {
    return this.labels.get(contentKey(item));
  }

  /** Take in what a page of results says (a label verified since the page opened). @param {Result[]} items */
  learn(items) {
    for (const item of items) if (item.verified_label) this.labels.set(contentKey(item), item.verified_label);
  }

  /**
   * Store these labels, one request each, as one undoable step.
   * @param {Array<[Result, string]>} changes
   * @param {(item: Result) => void} changed called after each one is stored
   */
  async verify(changes, changed) {
    /** @type {Undo[]} */
    const step = [];
    try {
      for (const [item, label] of changes) {
        await api("/api/corrections", { method: "PUT", json: this.answer(item, label) });
        step.push({ item, before: this.of(item) });
        this.labels.set(contentKey(item), label);
        changed(item);
      }
    } finally {
      if (step.length) this.steps.push(step); // what was stored can be undone, even if a later one failed
    }
  }

  /** @param {Result} item @param {string} label the body of PUT /api/corrections */
  answer(item, label) {
    return this.reviewer ? { result_id: item.id, label, reviewer: this.reviewer } : { result_id: item.id, label };
  }

  /**
   * Reverse the last step.
   * @param {(item: Result) => void} changed called after each one is restored
   * @returns {Promise<Result[]>} the images it touched, in the order they were decided; none if nothing to undo
   */
  async undo(changed) {
    const step = this.steps.pop();
    if (!step) return [];
    for (const { item, before } of [...step].reverse()) {
      if (before === undefined) {
        await api(`/api/corrections?result_id=${item.id}`, { method: "DELETE" });
        this.labels.delete(contentKey(item));
      } else {
        await api("/api/corrections", { method: "PUT", json: this.answer(item, before) });
        this.labels.set(contentKey(item), before);
      }
      changed(item);
    }
    return step.map((undo) => undo.item);
  }
}
