// Review mode's keys, class filter and the gallery's selection: one key per image.
import assert from "node:assert/strict";
import test from "node:test";

import { crossCounts } from "../../mobilabel/api/static/lib/cross.js";
import { matchClasses, reviewCommand } from "../../mobilabel/api/static/lib/keys.js";
import { select } from "../../mobilabel/api/static/lib/selection.js";
import { gallerySource, pageRequest } from "../../mobilabel/api/static/lib/sources.js";

test("each review key asks for one thing", () => {
  assert.deepEqual(reviewCommand({ key: "Enter" }), { kind: "accept" });
  assert.deepEqual(reviewCommand({ key: "a" }), { kind: "accept" });
  assert.deepEqual(reviewCommand({ key: "3" }), { kind: "pick", rank: 2 });
  assert.deepEqual(reviewCommand({ key: " " }), { kind: "next" });
  assert.deepEqual(reviewCommand({ key: "ArrowRight" }), { kind: "next" });
  assert.deepEqual(reviewCommand({ key: "ArrowLeft" }), { kind: "back" });
  assert.deepEqual(reviewCommand({ key: "u" }), { kind: "undo" });
  assert.deepEqual(reviewCommand({ key: "z", ctrlKey: true }), { kind: "undo" });
  assert.deepEqual(reviewCommand({ key: "z", metaKey: true }), { kind: "undo" });
  assert.deepEqual(reviewCommand({ key: "/" }), { kind: "filter" });
  assert.deepEqual(reviewCommand({ key: "s" }), { kind: "type" });
  assert.deepEqual(reviewCommand({ key: "S" }), { kind: "type" });
  assert.deepEqual(reviewCommand({ key: "0" }), { kind: "other" });
  assert.deepEqual(reviewCommand({ key: "?" }), { kind: "skip" });
  assert.deepEqual(reviewCommand({ key: "+" }), { kind: "zoom" });
});

test("keys with a modifier and the rest stay the browser's", () => {
  for (const press of [
    { key: "a", ctrlKey: true },
    { key: "r", metaKey: true },
    { key: "a", altKey: true },
    { key: "0", ctrlKey: true },
    { key: "Tab" },
    { key: "Escape" },
  ]) {
    assert.equal(reviewCommand(press), null, JSON.stringify(press));
  }
});

test("typing filters classes by any part of the name, case ignored, in order", () => {
  const classes = ["daisy", "dandelion", "roses", "sunflowers", "tulips"];
  assert.deepEqual(matchClasses(classes, "SUNFL"), ["sunflowers"]);
  assert.deepEqual(matchClasses(classes, "da"), ["daisy", "dandelion"]);
  assert.deepEqual(matchClasses(classes, "  "), classes);
  assert.deepEqual(matchClasses(classes, "x"), []);
});

test("a click toggles one image, a shift-click adds the range from the anchor", () => {
  const order = [10, 11, 12, 13, 14];
  let state = select(new Set(), order, 11, false, null);
  assert.deepEqual([...state.selected], [11]);
  state = select(state.selected, order, 13, true, state.anchor);
  assert.deepEqual([...state.selected].sort(), [11, 12, 13]);
  assert.equal(state.anchor, 11);
  state = select(state.selected, order, 12, false, state.anchor);
  assert.deepEqual([...state.selected].sort(), [11, 13]);
  assert.equal(state.anchor, 12);
  const before = new Set([10]);
  select(before, order, 14, true, null); // no anchor: a plain toggle, and the given set is not changed
  assert.deepEqual([...before], [10]);
});

test("the gallery's source follows its URL", () => {
  const filters = ["job", "label", "sort"];
  const plain = gallerySource(new URLSearchParams("view=gallery&label=daisy&sort=confidence&other=x"), filters);
  assert.deepEqual(plain, { title: "Gallery", byId: false, path: "/api/results?label=daisy&sort=confidence" });
  assert.equal(pageRequest(plain, 60, null, "abc/="), "/api/results?label=daisy&sort=confidence&limit=60&cursor=abc%2F%3D");
  const flip = gallerySource(new URLSearchParams("a=v1&b=v2&label_a=roses&label_b=tulips"), filters);
  assert.equal(flip.path, "/api/models/compare/images?a=v1&b=v2&label_a=roses&label_b=tulips");
  assert.equal(pageRequest(flip, 60, 42, null), `${flip.path}&limit=60&after=42`);
  const cell = gallerySource(new URLSearchParams("confusion=v/1&verified=roses&predicted=tulips"), filters);
  assert.equal(cell.path, "/api/models/v%2F1/confusion/images?verified=roses&predicted=tulips");
  assert.equal(cell.title, "Verified roses, predicted tulips");
});

test("a cross table has sorted headings and 0 for empty cells", () => {
  const table = crossCounts(
    [
      { label_a: "tulips", label_b: "roses", images: 2 },
      { label_a: "daisy", label_b: "daisy", images: 5 },
    ],
    "label_a",
    "label_b",
  );
  assert.deepEqual(table.rows, ["daisy", "tulips"]);
  assert.deepEqual(table.cols, ["daisy", "roses"]);
  assert.equal(table.count("tulips", "roses"), 2);
  assert.equal(table.count("daisy", "roses"), 0);
});
