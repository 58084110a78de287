// The gallery's verified labels and undo, against a stand-in for the API that records each call.
import assert from "node:assert/strict";
import test from "node:test";

import { ApiError } from "../../mobilabel/api/static/lib/api.js";
import { Verdicts } from "../../mobilabel/api/static/lib/verdicts.js";

/** @param {(url: string, init: RequestInit) => Response} answer @returns {string[]} the calls made, "METHOD url body" */
function fakeServer(answer) {
  /** @type {string[]} */
  const calls = [];
  globalThis.fetch = async (input, init = {}) => {
    calls.push(`${init.method} ${input} ${init.body || ""}`.trim());
    return answer(String(input), init);
  };
  return calls;
}

const ok = () => new Response(JSON.stringify({}), { status: 200, headers: { "Content-Type": "application/json" } });
/** @param {number} id @param {string} hash */
const result = (id, hash) =>
  /** @type {import("mobilabel-api").Result} */ ({
    id,
    content_hash: hash,
    image_path: `/p/${id}.jpg`,
    label: "daisy",
    status: "ok",
  });

test("one decision is one undo step, restoring what each image had before", async () => {
  const calls = fakeServer(ok);
  const verdicts = new Verdicts([
    {
      content_hash: "h2",
      image_path: "/p/2.jpg",
      label: "roses",
      state: "current",
      made_on: "",
      updated_at: "",
      reviewer: null,
      audit: false,
    },
    {
      content_hash: "h9",
      image_path: "/p/9.jpg",
      label: "tulips",
      state: "stale",
      made_on: "",
      updated_at: "",
      reviewer: null,
      audit: false,
    },
  ]);
  const [one, two] = [result(1, "h1"), result(2, "h2")];
  assert.equal(verdicts.of(two), "roses");
  assert.equal(verdicts.of(result(9, "h9")), undefined); // a stale label is not shown
  /** @type {number[]} */
  const changed = [];
  await verdicts.verify(
    [
      [one, "daisy"],
      [two, "daisy"],
    ],
    (item) => changed.push(item.id),
  );
  assert.deepEqual([verdicts.of(one), verdicts.of(two)], ["daisy", "daisy"]);
  const undone = await verdicts.undo((item) => changed.push(item.id));
  assert.deepEqual(
    undone.map((i) => i.id),
    [1, 2],
  );
  assert.deepEqual([verdicts.of(one), verdicts.of(two)], [undefined, "roses"]);
  assert.deepEqual(changed, [1, 2, 2, 1]);
  assert.deepEqual(calls, [
    'PUT /api/corrections {"result_id":1,"label":"daisy"}',
    'PUT /api/corrections {"result_id":2,"label":"daisy"}',
    'PUT /api/corrections {"result_id":2,"label":"roses"}',
    "DELETE /api/corrections?result_id=1",
  ]);
  assert.deepEqual(await verdicts.undo(() => {}), []);
});

test("a refused label keeps what was stored before it undoable and says the server's reason", async () => {
  fakeServer((_url, init) =>
    String(init.body).includes('"label":"nope"')
      ? new Response(JSON.stringify({ detail: "unknown label 'nope'" }), {
          status: 422,
          headers: { "Content-Type": "application/json" },
        })
      : ok(),
  );
  const verdicts = new Verdicts([]);
  const [one, two] = [result(1, "h1"), result(2, "h2")];
  await assert.rejects(
    verdicts.verify(
      [
        [one, "daisy"],
        [two, "nope"],
      ],
      () => {},
    ),
    (error) => error instanceof ApiError && error.status === 422 && error.message === "unknown label 'nope'",
  );
  assert.equal(verdicts.of(two), undefined);
  assert.deepEqual(
    (await verdicts.undo(() => {})).map((i) => i.id),
    [1],
  );
  assert.equal(verdicts.of(one), undefined);
});

test("a reviewer's name travels with each answer and with its undo", async () => {
  const calls = fakeServer(ok);
  const verdicts = new Verdicts([], "ana");
  await verdicts.verify([[result(1, "h1"), "other"]], () => {});
  assert.deepEqual(calls, ['PUT /api/corrections {"result_id":1,"label":"other","reviewer":"ana"}']);
});
