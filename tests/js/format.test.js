// The page's pure formatting: what a reviewer reads for numbers, runs and links.
import assert from "node:assert/strict";
import test from "node:test";

import {
  durationText,
  percent,
  rateText,
  runProgressText,
  runShare,
  shortId,
  thumbnailUrl,
  viewUrl,
  wholePercent,
} from "../../mobilabel/api/static/lib/format.js";

test("percent and ids", () => {
  assert.equal(percent(0.8345), "83.5%");
  assert.equal(percent(0), "0.0%");
  assert.equal(percent(null), "");
  assert.equal(shortId("0123456789abcdef"), "0123456789ab");
  assert.equal(shortId(null), "");
});

test("a view's URL keeps only what was chosen, encoded", () => {
  assert.equal(
    viewUrl({ view: "gallery", label: "sun flowers", job: 3, path: "", version: null, sort: undefined }),
    "?view=gallery&label=sun+flowers&job=3",
  );
});

test("a thumbnail URL names the file's state when known", () => {
  assert.equal(thumbnailUrl({ id: 7, content_id: "12:34" }, 512), "/api/results/7/thumbnail?size=512&v=12%3A34");
  assert.equal(thumbnailUrl({ id: 7, content_id: null }), "/api/results/7/thumbnail?size=256");
});

test("rates, durations, whole percents", () => {
  assert.equal(rateText(12.345), "12.3 img/s");
  assert.equal(rateText(null), "");
  assert.equal(durationText(4.2), "5 s");
  assert.equal(durationText(185), "3 min 5 s");
  assert.equal(durationText(null), "");
  assert.equal(wholePercent(1, 3), 33);
  assert.equal(wholePercent(5, 0), 0);
  assert.equal(wholePercent(7, 5), 100);
});

test("a run's progress reads as epoch, phase, accuracy and loss", () => {
  const progress = { epoch: 2, epochs: 8, phase: "train", done: 45, total: 100, loss: 0.43129, accuracy: 0.8123 };
  assert.equal(runProgressText(progress), "epoch 2 of 8 · training 45% · accuracy 81.2% · loss 0.431");
  assert.equal(
    runProgressText({ ...progress, phase: "val", done: 10, total: 10 }),
    "epoch 2 of 8 · validating 100% · accuracy 81.2% · loss 0.431",
  );
  assert.equal(runProgressText(null), "");
});

test("a run's share done counts finished epochs and half an epoch per phase", () => {
  const progress = { epoch: 2, epochs: 4, phase: "train", done: 50, total: 100, loss: 1, accuracy: 0.5 };
  assert.equal(runShare(progress), (1 + 0.25) / 4);
  assert.equal(runShare({ ...progress, phase: "val", done: 100 }), 2 / 4);
  assert.equal(runShare({ ...progress, epoch: 4, phase: "val", done: 100 }), 1);
  assert.equal(runShare(null), 0);
});
