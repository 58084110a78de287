// The likely-mistakes, duplicates and "more like this" views' pure parts: keys, focus after an answer,
// a group's likeliest label and summary, the classes an answer may name.
import assert from "node:assert/strict";
import test from "node:test";

import { ownClasses } from "../../mobilabel/api/static/lib/classes.js";
import {
  groupSummary,
  likeliestLabel,
  mistakeCommand,
  nextOpen,
  similarityText,
  sourceText,
} from "../../mobilabel/api/static/lib/curation.js";

test("one key per likely mistake: use the model's label, keep the given one, or move", () => {
  assert.equal(mistakeCommand({ key: "a" }), "use");
  assert.equal(mistakeCommand({ key: "Enter" }), "use");
  assert.equal(mistakeCommand({ key: "k" }), "keep");
  assert.equal(mistakeCommand({ key: "ArrowDown" }), "next");
  assert.equal(mistakeCommand({ key: "j" }), "next");
  assert.equal(mistakeCommand({ key: "ArrowUp" }), "previous");
  assert.equal(mistakeCommand({ key: "a", ctrlKey: true }), null); // select all: the browser's
  assert.equal(mistakeCommand({ key: "x" }), null);
});

test("after an answer focus goes to the next open row, round to the start, none when all are answered", () => {
  assert.equal(nextOpen([true, false, false], 0), 1);
  assert.equal(nextOpen([false, true, true], 1), 0);
  assert.equal(nextOpen([false, true, true], 0), 0); // the row itself, last
  assert.equal(nextOpen([true, true], 0), -1);
  assert.equal(nextOpen([], 0), -1);
});

test("a group is offered its commonest answer, else its commonest model label", () => {
  const member = (/** @type {string | null} */ label, answered = false) => ({ label, answered });
  assert.equal(likeliestLabel([member("roses"), member("tulips"), member("tulips")]), "tulips");
  assert.equal(likeliestLabel([member("roses"), member("tulips", true), member("roses")]), "tulips");
  assert.equal(likeliestLabel([member("daisy"), member("roses")]), "daisy"); // a tie: the first
  assert.equal(likeliestLabel([member(null)]), "");
  assert.equal(
    groupSummary([member("roses"), member("roses", true), member(null)]),
    "3 photos · 1 answered · roses ×2, no label",
  );
});

test("similarity in two decimals, nothing when none", () => {
  assert.equal(similarityText(0.9349), "similarity 0.93");
  assert.equal(similarityText(null), "");
  assert.equal(similarityText(undefined), "");
});

test("your classes: the active ones and the active version's, not ImageNet's and not retired ones", () => {
  const classes = [
    { name: "orchid", state: "active" },
    { name: "tulips", state: "retired" },
  ];
  const flowers = { active: true, imagenet: false, classes: ["daisy", "tulips", "orchid"] };
  assert.deepEqual(ownClasses([flowers], classes), ["orchid", "daisy"]);
  assert.deepEqual(ownClasses([{ ...flowers, imagenet: true }], classes), ["orchid"]);
  assert.deepEqual(ownClasses([{ ...flowers, active: false }], []), []);
});

test("where a checked label comes from, in words", () => {
  assert.equal(sourceText("folder"), "its folder's name");
  assert.equal(sourceText("accepted"), "accepted by mobilabel accept");
  assert.equal(sourceText("answer"), "an answer");
  assert.equal(sourceText("rule"), "rule"); // a source this page does not know yet: as the server says it
});
