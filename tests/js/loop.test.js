// The labelling loop's pure parts: bulk accept's question, the accuracy estimate's sentence, a new class typed.
import assert from "node:assert/strict";
import test from "node:test";

import { bulkQuestion, doubted, estimateText, HANDFUL, margin } from "../../mobilabel/api/static/lib/doubt.js";
import { newClassName } from "../../mobilabel/api/static/lib/keys.js";

/** @param {number} first @param {number} second */
const item = (first, second) => ({
  confidence: first,
  top_k: [
    { label: "daisy", confidence: first },
    { label: "roses", confidence: second },
  ],
});

test("the model doubts a label under even odds or one its runner-up nearly matches", () => {
  assert.equal(margin(item(0.9, 0.05)), 0.9 - 0.05);
  assert.equal(margin({ confidence: 0.9, top_k: [{ label: "daisy", confidence: 0.9 }] }), null);
  assert.equal(doubted(item(0.9, 0.05)), false);
  assert.equal(doubted(item(0.45, 0.1)), true); // under 50%
  assert.equal(doubted(item(0.55, 0.5)), true); // the top two within 10 points
  assert.equal(doubted({ confidence: null, top_k: null }), true); // nothing known: doubted
});

test("bulk accept asks only above a handful, and counts the doubted ones", () => {
  assert.equal(bulkQuestion(Array.from({ length: HANDFUL }, () => item(0.3, 0.2))), null);
  const sure = Array.from({ length: 6 }, () => item(0.95, 0.01));
  assert.match(/** @type {string} */ (bulkQuestion(sure)), /of 6 images .* sure of each of them.* OK stores all 6/);
  const mixed = [...sure, item(0.4, 0.3), item(0.6, 0.55)];
  assert.match(/** @type {string} */ (bulkQuestion(mixed)), /of 8 images .* doubts 2 of them \(confidence under 50%/);
});

test("the estimate says its interval and how many audit answers it rests on", () => {
  assert.equal(
    estimateText({ accuracy: 0.5, low: 0.188, high: 0.812, audit_answers: 6 }),
    "estimated accuracy on the unreviewed rest: 50% (95% interval 19%–81%), from 6 audit answers",
  );
  assert.match(estimateText({ accuracy: null, low: null, high: null, audit_answers: 0 }), /no audit answers yet/);
  assert.match(estimateText({ accuracy: 1, low: 0.21, high: 1, audit_answers: 1 }), /from 1 audit answer$/);
});

test("a typed name is a new class unless it is one already, case ignored", () => {
  const names = ["daisy", "roses", "other", "skip"];
  assert.equal(newClassName(names, "  Orchid "), "Orchid");
  assert.equal(newClassName(names, "Roses"), null);
  assert.equal(newClassName(names, "OTHER"), null);
  assert.equal(newClassName(names, "  "), null);
  assert.equal(newClassName(names, "rose"), "rose"); // a prefix of a class is still a new name
});
