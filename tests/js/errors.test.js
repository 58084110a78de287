// The one line a person reads for an API error, whatever shape the body has.
import assert from "node:assert/strict";
import test from "node:test";

import { errorDetail } from "../../mobilabel/api/static/lib/errors.js";

test("a sentence detail is said as it is, on one line", () => {
  assert.equal(
    errorDetail({ detail: "no label 'daysy'; labels: daisy, roses" }, "422"),
    "no label 'daysy'; labels: daisy, roses",
  );
  assert.equal(errorDetail({ detail: "first\n  second" }, "400"), "first second");
});

test("a refused parameter is named with FastAPI's message, never as raw JSON", () => {
  const body = {
    detail: [
      {
        type: "less_than_equal",
        loc: ["query", "min_confidence"],
        msg: "Input should be less than or equal to 1",
        input: "2",
        ctx: { le: 1 },
      },
      { type: "missing", loc: ["body", "run", "data_dir"], msg: "Field required" },
    ],
  };
  assert.equal(errorDetail(body, "422"), "min_confidence: Input should be less than or equal to 1; run.data_dir: Field required");
});

test("anything else falls back to the status", () => {
  assert.equal(errorDetail(null, "502 Bad Gateway"), "502 Bad Gateway");
  assert.equal(errorDetail({ detail: "" }, "500"), "500");
  assert.equal(errorDetail({ message: "x" }, "500"), "500");
  assert.equal(errorDetail({ detail: [{}] }, "422"), "invalid");
  assert.equal(errorDetail({ detail: ["odd"] }, "422"), "odd");
});
